"""Where recordings go: one uploader per cloud behind one interface.

:mod:`.base` holds the interface (:class:`~.base.Uploader`, :class:`~.base.ObjectUpload`),
retries and the thread pool every blocking SDK call runs in; :mod:`.s3`, :mod:`.gcs`,
:mod:`.azure` and :mod:`.local` (the twin unit tests use) implement it;
:mod:`.destinations` builds one from a destination and its opened credentials, and
:mod:`.credentials` opens the sealed credentials the control plane hands out.
"""

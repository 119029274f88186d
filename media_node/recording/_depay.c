/*
 * A recorded track's per-frame work in C: media_node.recording.frames and .opus.
 *
 * vp8_push_all  FrameAssembler._push_all_vp8: each queued frame's packets put in
 *               order, checked whole and following the last, their payload
 *               descriptors skipped and the payloads joined, its timestamp unwrapped.
 * opus_push_all FrameAssembler's Opus path: one packet a frame, timestamps unwrapped.
 * opus_join     OpusJoiner.push: consecutive single-frame packets of one TOC joined
 *               into "code 3" packets of up to max_samples.
 *
 * Each does exactly what the pure Python it stands for does (unit tests hold them
 * equal on random input); the Python runs where this module is not built. The state a
 * Python object keeps between batches comes in, and goes back, in a list. Built by
 * media_node/build_native.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_PACKETS 64       /* a frame's packets held on the stack; more on the heap */
#define MAX_FRAMES 48        /* an Opus packet's frame count (6 bits, 2.5 ms frames) */
#define MAX_FRAME_BYTES 1275 /* the largest Opus frame */

typedef struct {
    long long seq;
    long marker;
    const unsigned char *data;
    Py_ssize_t size;
    Py_ssize_t skip;  /* its descriptor's length */
} Packet;

/* Python's order of (seq, marker, payload) tuples, seq compared as given or wrapped */
static int
before(const Packet *a, const Packet *b, int wrapped)
{
    long long sa = wrapped ? (a->seq - 0x8000) & 0xFFFF : a->seq;
    long long sb = wrapped ? (b->seq - 0x8000) & 0xFFFF : b->seq;
    if (sa != sb)
        return sa < sb;
    if (a->marker != b->marker)
        return a->marker < b->marker;
    Py_ssize_t n = a->size < b->size ? a->size : b->size;
    int c = memcmp(a->data, b->data, (size_t)n);
    return c != 0 ? c < 0 : a->size < b->size;
}

static void
sort_packets(Packet *p, Py_ssize_t count, int wrapped)
{
    for (Py_ssize_t i = 1; i < count; i++) {  /* a few packets a frame: insertion */
        Packet key = p[i];
        Py_ssize_t j = i;
        while (j > 0 && before(&key, &p[j - 1], wrapped)) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = key;
    }
}

/* The VP8 payload descriptor's length (RFC 7741 4.2), or -1 if the payload is
 * shorter than its descriptor (frames.vp8_payload's ValueError). */
static Py_ssize_t
descriptor(const unsigned char *d, Py_ssize_t size)
{
    if (size < 1)
        return -1;
    Py_ssize_t n = 1;
    if (d[0] & 0x80) {
        if (size < 2)
            return -1;
        unsigned char ext = d[1];
        n = 2;
        if (ext & 0x80) {
            if (size < 3)
                return -1;
            n += (d[2] & 0x80) ? 2 : 1;
        }
        if (ext & 0x40)
            n += 1;
        if (ext & 0x30)
            n += 1;
    }
    return size < n ? -1 : n;
}

/* (seq, marker, payload) of one packet tuple; payload must be bytes */
static int
read_packet(PyObject *item, Packet *out)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
        PyErr_SetString(PyExc_TypeError, "a packet is a (seq, marker, payload) tuple");
        return -1;
    }
    PyObject *payload = PyTuple_GET_ITEM(item, 2);
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "a packet's payload is bytes");
        return -1;
    }
    out->seq = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0));
    out->marker = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
    if (PyErr_Occurred())
        return -1;
    out->data = (const unsigned char *)PyBytes_AS_STRING(payload);
    out->size = PyBytes_GET_SIZE(payload);
    return 0;
}

/* A queued frame: (timestamp, packets, keyframe, arrival) */
static int
read_frame(PyObject *item, long long *timestamp, PyObject **packets, PyObject **keyframe,
           PyObject **at)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4 ||
        !PyList_Check(PyTuple_GET_ITEM(item, 1))) {
        PyErr_SetString(PyExc_TypeError,
                        "a frame is a (timestamp, [packets], keyframe, arrival) tuple");
        return -1;
    }
    *timestamp = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0));
    if (*timestamp == -1 && PyErr_Occurred())
        return -1;
    *packets = PyTuple_GET_ITEM(item, 1);
    *keyframe = PyTuple_GET_ITEM(item, 2);
    *at = PyTuple_GET_ITEM(item, 3);
    return 0;
}

static PyObject *
make_frame(PyObject *frame_type, long long pts, PyObject *data, PyObject *keyframe,
           long long duration)
{
    PyObject *args[4];
    args[0] = PyLong_FromLongLong(pts);
    if (args[0] == NULL)
        return NULL;
    args[1] = data;
    args[2] = keyframe;
    args[3] = duration ? PyLong_FromLongLong(duration) : NULL;
    if (duration && args[3] == NULL) {
        Py_DECREF(args[0]);
        return NULL;
    }
    PyObject *frame = PyObject_Vectorcall(frame_type, args, duration ? 4 : 3, NULL);
    Py_DECREF(args[0]);
    Py_XDECREF(args[3]);
    return frame;
}

/* state items: 0 first_ts (None: no frame yet), 1 last_ts, 2 ext, 3 last_seq (None),
 * 4 needs_keyframe, 5 dropped */
static int
get_state(PyObject *state, Py_ssize_t size, int *has_first, long long *last_ts,
          long long *ext, int *has_seq, long long *last_seq, int *needs_keyframe,
          long long *dropped)
{
    if (!PyList_Check(state) || PyList_GET_SIZE(state) != size) {
        PyErr_Format(PyExc_TypeError, "state is a list of %zd", size);
        return -1;
    }
    *has_first = PyList_GET_ITEM(state, 0) != Py_None;
    *last_ts = PyLong_AsLongLong(PyList_GET_ITEM(state, 1));
    *ext = PyLong_AsLongLong(PyList_GET_ITEM(state, 2));
    if (size == 6) {  /* VP8: last_seq and needs_keyframe too */
        *has_seq = PyList_GET_ITEM(state, 3) != Py_None;
        *last_seq = *has_seq ? PyLong_AsLongLong(PyList_GET_ITEM(state, 3)) : 0;
        *needs_keyframe = PyObject_IsTrue(PyList_GET_ITEM(state, 4));
        if (*needs_keyframe < 0)
            return -1;
    }
    *dropped = PyLong_AsLongLong(PyList_GET_ITEM(state, size - 1));
    return PyErr_Occurred() ? -1 : 0;
}

static int
set_item(PyObject *list, Py_ssize_t i, PyObject *value)
{
    if (value == NULL)
        return -1;
    return PyList_SetItem(list, i, value);  /* steals value */
}

/* first_ts stays the Python object it was set from (the first kept frame's) */
static int
put_state(PyObject *state, Py_ssize_t size, PyObject *first_ts, long long last_ts,
          long long ext, int has_seq, long long last_seq, int needs_keyframe,
          long long dropped)
{
    if (first_ts != NULL) {
        Py_INCREF(first_ts);
        if (set_item(state, 0, first_ts) < 0)
            return -1;
    }
    if (set_item(state, 1, PyLong_FromLongLong(last_ts)) < 0 ||
        set_item(state, 2, PyLong_FromLongLong(ext)) < 0)
        return -1;
    if (size == 6) {  /* VP8: last_seq and needs_keyframe too */
        PyObject *seq = has_seq ? PyLong_FromLongLong(last_seq) : Py_NewRef(Py_None);
        if (set_item(state, 3, seq) < 0 ||
            set_item(state, 4, PyBool_FromLong(needs_keyframe)) < 0)
            return -1;
    }
    return set_item(state, size - 1, PyLong_FromLongLong(dropped));
}

static PyObject *
result(PyObject *frames, PyObject *first_at, PyObject *last_at)
{
    return PyTuple_Pack(3, frames, first_at ? first_at : Py_None,
                        last_at ? last_at : Py_None);
}

/* A kept frame: Frame(pts, data, keyframe) appended to frames, and the batch's first
 * and last arrivals (borrowed from the batch) moved on, as Python's `first_at or at` */
static int
keep(PyObject *frames, PyObject *frame_type, long long pts, PyObject *data,
     PyObject *keyframe, PyObject *at, PyObject **first_at, PyObject **last_at)
{
    PyObject *frame = make_frame(frame_type, pts, data, keyframe, 0);
    if (frame == NULL)
        return -1;
    int r = PyList_Append(frames, frame);
    Py_DECREF(frame);
    if (r < 0)
        return -1;
    if (*first_at == NULL || !PyObject_IsTrue(*first_at))
        *first_at = at;
    *last_at = at;
    return 0;
}

/* vp8_push_all(batch, state, Frame) -> (frames, first_at, last_at) */
static PyObject *
vp8_push_all(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "vp8_push_all(batch: list, state: list, Frame)");
        return NULL;
    }
    PyObject *batch = args[0], *state = args[1], *frame_type = args[2];
    int has_first, has_seq, needs_keyframe;
    long long last_ts, ext, last_seq, dropped;
    if (get_state(state, 6, &has_first, &last_ts, &ext, &has_seq, &last_seq,
                  &needs_keyframe, &dropped) < 0)
        return NULL;
    PyObject *frames = PyList_New(0), *first_ts = NULL, *first_at = NULL, *last_at = NULL;
    if (frames == NULL)
        return NULL;
    Packet stack[MAX_PACKETS], *packets = stack;
    Py_ssize_t capacity = MAX_PACKETS;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(batch); i++) {
        long long timestamp;
        PyObject *list, *keyframe, *at;
        if (read_frame(PyList_GET_ITEM(batch, i), &timestamp, &list, &keyframe, &at) < 0)
            goto error;
        long long delta = 0;
        if (has_first) {
            delta = (timestamp - last_ts) & 0xFFFFFFFFLL;
            if (delta == 0 || delta >= 0x80000000LL) {  /* late or repeated */
                dropped++;
                continue;
            }
        }
        Py_ssize_t count = PyList_GET_SIZE(list);
        if (count == 0) {
            PyErr_SetString(PyExc_IndexError, "a frame without packets");
            goto error;
        }
        if (count > capacity) {  /* a big keyframe */
            Packet *more = PyMem_Realloc(packets == stack ? NULL : packets,
                                         (size_t)count * sizeof(Packet));
            if (more == NULL) {
                PyErr_NoMemory();
                goto error;
            }
            packets = more;
            capacity = count;
        }
        for (Py_ssize_t k = 0; k < count; k++)
            if (read_packet(PyList_GET_ITEM(list, k), &packets[k]) < 0)
                goto error;
        if (count > 1) {
            sort_packets(packets, count, 0);
            if (packets[count - 1].seq - packets[0].seq > 0x8000)  /* wraps in the frame */
                sort_packets(packets, count, 1);
        }
        /* whole: contiguous, starting a frame (S=1, partition 0), after the last one */
        long long seq = packets[0].seq, end_seq = packets[count - 1].seq;
        int complete = ((end_seq - seq) & 0xFFFF) == count - 1 && packets[0].size > 0 &&
                       (packets[0].data[0] & 0x1F) == 0x10;
        if (!complete || (has_seq && seq != ((last_seq + 1) & 0xFFFF)))
            needs_keyframe = 1;
        has_seq = 1;
        last_seq = end_seq;
        int key = PyObject_IsTrue(keyframe);
        if (key < 0)
            goto error;
        if (needs_keyframe && !(complete && key)) {
            dropped++;
            continue;
        }
        Py_ssize_t total = 0;
        int truncated = 0;
        for (Py_ssize_t k = 0; k < count && !truncated; k++) {
            packets[k].skip = descriptor(packets[k].data, packets[k].size);
            truncated = packets[k].skip < 0;
            total += packets[k].size - packets[k].skip;
        }
        if (truncated) {
            needs_keyframe = 1;
            dropped++;
            continue;
        }
        PyObject *data = PyBytes_FromStringAndSize(NULL, total);
        if (data == NULL)
            goto error;
        char *out = PyBytes_AS_STRING(data);
        for (Py_ssize_t k = 0; k < count; k++) {
            Py_ssize_t n = packets[k].size - packets[k].skip;
            memcpy(out, packets[k].data + packets[k].skip, (size_t)n);
            out += n;
        }
        needs_keyframe = 0;
        if (!has_first) {
            has_first = 1;
            first_ts = PyTuple_GET_ITEM(PyList_GET_ITEM(batch, i), 0);
        } else {
            ext += delta;
        }
        last_ts = timestamp;
        int kept = keep(frames, frame_type, ext, data, keyframe, at, &first_at, &last_at);
        Py_DECREF(data);
        if (kept < 0)
            goto error;
    }
    if (packets != stack)
        PyMem_Free(packets);
    if (put_state(state, 6, first_ts, last_ts, ext, has_seq, last_seq, needs_keyframe,
                  dropped) < 0) {
        Py_DECREF(frames);
        return NULL;
    }
    PyObject *out = result(frames, first_at, last_at);
    Py_DECREF(frames);
    return out;
error:
    if (packets != stack)
        PyMem_Free(packets);
    Py_DECREF(frames);
    return NULL;
}

/* opus_push_all(batch, state, Frame) -> (frames, first_at, last_at), or None when a
 * frame has other than one packet (the caller goes frame by frame). state: first_ts,
 * last_ts, ext, dropped. */
static PyObject *
opus_push_all(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "opus_push_all(batch: list, state: list, Frame)");
        return NULL;
    }
    PyObject *batch = args[0], *state = args[1], *frame_type = args[2];
    Py_ssize_t size = PyList_GET_SIZE(batch);
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *item = PyList_GET_ITEM(batch, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4 ||
            !PyList_Check(PyTuple_GET_ITEM(item, 1)))
        {
            PyErr_SetString(PyExc_TypeError,
                            "a frame is a (timestamp, [packets], keyframe, arrival) tuple");
            return NULL;
        }
        if (PyList_GET_SIZE(PyTuple_GET_ITEM(item, 1)) != 1)
            Py_RETURN_NONE;
    }
    int has_first, unused_seq, unused_key;
    long long last_ts, ext, dropped, unused;
    if (get_state(state, 4, &has_first, &last_ts, &ext, &unused_seq, &unused, &unused_key,
                  &dropped) < 0)
        return NULL;
    PyObject *frames = PyList_New(0), *first_ts = NULL, *first_at = NULL, *last_at = NULL;
    if (frames == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        long long timestamp;
        PyObject *list, *keyframe, *at;
        PyObject *item = PyList_GET_ITEM(batch, i);
        if (read_frame(item, &timestamp, &list, &keyframe, &at) < 0)
            goto error;
        if (!has_first) {
            has_first = 1;
            first_ts = PyTuple_GET_ITEM(item, 0);
        } else {
            long long delta = (timestamp - last_ts) & 0xFFFFFFFFLL;
            if (delta == 0 || delta >= 0x80000000LL) {  /* late or repeated */
                dropped++;
                continue;
            }
            ext += delta;
        }
        last_ts = timestamp;
        PyObject *packet = PyList_GET_ITEM(list, 0);
        if (!PyTuple_Check(packet) || PyTuple_GET_SIZE(packet) != 3) {
            PyErr_SetString(PyExc_TypeError, "a packet is a (seq, marker, payload) tuple");
            goto error;
        }
        if (keep(frames, frame_type, ext, PyTuple_GET_ITEM(packet, 2), keyframe, at,
                 &first_at, &last_at) < 0)
            goto error;
    }
    if (put_state(state, 4, first_ts, last_ts, ext, 0, 0, 0, dropped) < 0)
        goto error;
    PyObject *out = result(frames, first_at, last_at);
    Py_DECREF(frames);
    return out;
error:
    Py_DECREF(frames);
    return NULL;
}

static long
frame_samples(unsigned char toc)
{
    static const long silk[] = {480, 960, 1920, 2880}, hybrid[] = {480, 960},
                      celt[] = {120, 240, 480, 960};
    int config = toc >> 3;
    if (config < 12)
        return silk[config & 3];
    if (config < 16)
        return hybrid[config & 1];
    return celt[config & 3];
}

/* a frame's pts and data (bytes), borrowed */
static int
frame_fields(PyObject *frame, long long *pts, PyObject **data)
{
    PyObject *p = PyObject_GetAttrString(frame, "pts");
    if (p == NULL)
        return -1;
    *pts = PyLong_AsLongLong(p);
    Py_DECREF(p);
    PyObject *d = PyObject_GetAttrString(frame, "data");
    if (d == NULL)
        return -1;
    Py_DECREF(d);  /* the frame holds it */
    if (!PyBytes_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "a frame's data is bytes");
        return -1;
    }
    *data = d;
    return PyErr_Occurred() ? -1 : 0;
}

/* opus.join: one packet of the group's frames (single-frame packets of one TOC) */
static PyObject *
join(PyObject *group, PyObject *frame_type)
{
    Py_ssize_t count = PyList_GET_SIZE(group);
    long long pts;
    PyObject *data;
    if (frame_fields(PyList_GET_ITEM(group, 0), &pts, &data) < 0)
        return NULL;
    unsigned char toc = (unsigned char)PyBytes_AS_STRING(data)[0];
    if (count == 1)
        return make_frame(frame_type, pts, data, Py_True, frame_samples(toc));
    PyObject *bodies[MAX_FRAMES];
    Py_ssize_t body = 0, lengths = 0, first_size = -1;
    int cbr = 1;
    for (Py_ssize_t k = 0; k < count; k++) {
        long long unused;
        if (frame_fields(PyList_GET_ITEM(group, k), &unused, &bodies[k]) < 0)
            return NULL;
        Py_ssize_t size = PyBytes_GET_SIZE(bodies[k]) - 1;
        if (first_size < 0)
            first_size = size;
        cbr &= size == first_size;
        body += size;
        if (k < count - 1)
            lengths += size < 252 ? 1 : 2;
    }
    PyObject *packet = PyBytes_FromStringAndSize(NULL, 2 + body + (cbr ? 0 : lengths));
    if (packet == NULL)
        return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(packet);
    *out++ = (toc & 0xFC) | 3;
    *out++ = (unsigned char)(cbr ? count : 0x80 | count);
    if (!cbr) {
        for (Py_ssize_t k = 0; k < count - 1; k++) {  /* RFC 6716 3.2.1 */
            Py_ssize_t size = PyBytes_GET_SIZE(bodies[k]) - 1;
            if (size < 252) {
                *out++ = (unsigned char)size;
            } else {
                unsigned char first = (unsigned char)(252 + (size & 3));
                *out++ = first;
                *out++ = (unsigned char)((size - first) >> 2);
            }
        }
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t size = PyBytes_GET_SIZE(bodies[k]) - 1;
        memcpy(out, PyBytes_AS_STRING(bodies[k]) + 1, (size_t)size);
        out += size;
    }
    PyObject *frame = make_frame(frame_type, pts, packet, Py_True, count * frame_samples(toc));
    Py_DECREF(packet);
    return frame;
}

static int
append_join(PyObject *out, PyObject *group, PyObject *frame_type)
{
    PyObject *packet = join(group, frame_type);
    if (packet == NULL)
        return -1;
    int r = PyList_Append(out, packet);
    Py_DECREF(packet);
    return r < 0 ? -1 : PyList_SetSlice(group, 0, PyList_GET_SIZE(group), NULL);
}

/* opus_join(frames, state, max_samples, Frame) -> packets; state: [group (a list of
 * frames held), toc, next_pts] */
static PyObject *
opus_join(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[1]) ||
        PyList_GET_SIZE(args[1]) != 3 || !PyList_Check(PyList_GET_ITEM(args[1], 0))) {
        PyErr_SetString(PyExc_TypeError,
                        "opus_join(frames: list, [group, toc, next_pts], max_samples, Frame)");
        return NULL;
    }
    PyObject *frames = args[0], *state = args[1], *frame_type = args[3];
    PyObject *group = PyList_GET_ITEM(state, 0);
    long toc = PyLong_AsLong(PyList_GET_ITEM(state, 1));
    long long next_pts = PyLong_AsLongLong(PyList_GET_ITEM(state, 2));
    long long max_samples = PyLong_AsLongLong(args[2]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(frames); i++) {
        PyObject *frame = PyList_GET_ITEM(frames, i);
        long long pts;
        PyObject *data;
        if (frame_fields(frame, &pts, &data) < 0)
            goto error;
        Py_ssize_t size = PyBytes_GET_SIZE(data);
        unsigned char first = size ? (unsigned char)PyBytes_AS_STRING(data)[0] : 0;
        if ((first & 3) || size < 2 || size > MAX_FRAME_BYTES + 1) {
            /* not a single frame (or empty): a packet of its own kind, as it came */
            if (PyList_GET_SIZE(group) && append_join(out, group, frame_type) < 0)
                goto error;
            if (PyList_Append(out, frame) < 0)
                goto error;
            continue;
        }
        long samples = frame_samples(first);
        Py_ssize_t held = PyList_GET_SIZE(group);
        if (held && (first != toc || pts != next_pts || (held + 1) * samples > max_samples ||
                     held == MAX_FRAMES)) {
            if (append_join(out, group, frame_type) < 0)
                goto error;
            held = 0;
        }
        if (!held)
            toc = first;
        if (PyList_Append(group, frame) < 0)
            goto error;
        next_pts = pts + samples;
    }
    if (set_item(state, 1, PyLong_FromLong(toc)) < 0 ||
        set_item(state, 2, PyLong_FromLongLong(next_pts)) < 0)
        goto error;
    return out;
error:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"vp8_push_all", (PyCFunction)(void (*)(void))vp8_push_all, METH_FASTCALL,
     "FrameAssembler._push_all_vp8 in C."},
    {"opus_push_all", (PyCFunction)(void (*)(void))opus_push_all, METH_FASTCALL,
     "FrameAssembler's Opus path in C (None: a frame of other than one packet)."},
    {"opus_join", (PyCFunction)(void (*)(void))opus_join, METH_FASTCALL,
     "OpusJoiner.push in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_depay", "A recorded track's per-frame work in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__depay(void)
{
    return PyModule_Create(&module);
}

/*
 * The direct path's per-packet loop in C: media_node.fanout.RtpWriter.write.
 *
 * For one subscriber and one frame: copy the subscriber's header template, set the
 * marker/payload type, sequence number and timestamp, append the publisher's payload,
 * protect it with the subscriber's SRTP context (libsrtp, through the function pointer
 * that pylibsrtp exports, so the packet index state is the one aiortc uses), keep it
 * in the NACK history, and hand the frame's packets to the kernel in one sendmmsg(2).
 *
 * Packets the socket cannot take right now (EAGAIN), and every packet when asyncio
 * still has datagrams queued for the socket, come back to Python as bytes, which
 * queues them on the asyncio transport in order. Built by media_node/build_native.py;
 * the pure Python loop in fanout.py does the same where this module is missing.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64   /* packets per sendmmsg */
#define SLOT 2048  /* bytes per packet buffer: header + payload + SRTP trailer */
#define SRTP_TRAILER 144  /* libsrtp's SRTP_MAX_TRAILER_LEN */

typedef int (*srtp_protect_fn)(void *ctx, void *rtp, int *len);

static unsigned char slots[BATCH][SLOT];
static int lengths[BATCH];
static struct iovec iovs[BATCH];
static struct mmsghdr msgs[BATCH];

/* Send slots [0, count) to fd, or queue them in *unsent (a list, created on first
 * use) from the first one the socket refuses with EAGAIN. Other errors (ICMP
 * unreachable from a vanished peer, say) drop that packet: ICE consent tells. */
static int
flush(int count, int fd, struct sockaddr_storage *name, socklen_t namelen,
      int *direct, PyObject **unsent)
{
    int done = 0;
    while (done < count && *direct) {
        for (int i = done; i < count; i++) {
            iovs[i].iov_base = slots[i];
            iovs[i].iov_len = (size_t)lengths[i];
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_name = name;
            msgs[i].msg_hdr.msg_namelen = namelen;
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, &msgs[done], (unsigned int)(count - done), MSG_DONTWAIT);
        if (r > 0) {
            done += r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            *direct = 0;  /* asyncio queues this one and every later one, in order */
        } else {
            done += 1;  /* dropped */
        }
    }
    for (int i = done; i < count; i++) {
        if (*unsent == NULL && (*unsent = PyList_New(0)) == NULL)
            return -1;
        PyObject *data = PyBytes_FromStringAndSize((const char *)slots[i], lengths[i]);
        if (data == NULL)
            return -1;
        int failed = PyList_Append(*unsent, data);
        Py_DECREF(data);
        if (failed)
            return -1;
    }
    return 0;
}

PyDoc_STRVAR(write_frame_doc,
"write_frame(protect, ctx, fd, sockaddr, header, pt, delta, ts, packets, history,\n"
"            max_packet, direct) -> (sent, octets, last_seq, unsent)\n\n"
"protect: address of libsrtp's srtp_protect; ctx: the subscriber's srtp_t address;\n"
"fd: the UDP socket; sockaddr: bytes from sockaddr(); header: the RTP header\n"
"template (SSRC, MID extension); pt: payload type; delta: added to the publisher's\n"
"sequence numbers; ts: the RTP timestamp; packets: [(seq, marker, payload)];\n"
"history: the NACK history list (length a power of two); direct: False while asyncio\n"
"has datagrams queued for the socket. Returns the packets written, their payload\n"
"octets, the last sequence number (-1 for none) and a list of protected packets for\n"
"asyncio to send (or None).");

static PyObject *
write_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 12) {
        PyErr_SetString(PyExc_TypeError, "write_frame takes 12 arguments");
        return NULL;
    }
    srtp_protect_fn protect = (srtp_protect_fn)PyLong_AsVoidPtr(args[0]);
    void *ctx = PyLong_AsVoidPtr(args[1]);
    long fd = PyLong_AsLong(args[2]);
    long pt = PyLong_AsLong(args[5]);
    long delta = PyLong_AsLong(args[6]);
    unsigned long ts = PyLong_AsUnsignedLongMask(args[7]);
    Py_ssize_t max_packet = PyLong_AsSsize_t(args[10]);
    int direct = PyObject_IsTrue(args[11]);
    if (PyErr_Occurred() || direct < 0)
        return NULL;
    if (fd < -1 || fd > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "bad socket descriptor");
        return NULL;
    }
    if (protect == NULL || ctx == NULL) {
        PyErr_SetString(PyExc_ValueError, "no SRTP context");
        return NULL;
    }
    if (!PyBytes_Check(args[3]) || !PyBytes_Check(args[4]) || !PyList_Check(args[8])
            || !PyList_Check(args[9])) {
        PyErr_SetString(PyExc_TypeError, "sockaddr, header: bytes; packets, history: list");
        return NULL;
    }
    struct sockaddr_storage name;
    Py_ssize_t namelen = PyBytes_GET_SIZE(args[3]);
    if (namelen <= 0 || namelen > (Py_ssize_t)sizeof(name)) {
        PyErr_SetString(PyExc_ValueError, "bad sockaddr");
        return NULL;
    }
    memcpy(&name, PyBytes_AS_STRING(args[3]), (size_t)namelen);
    const unsigned char *header = (const unsigned char *)PyBytes_AS_STRING(args[4]);
    Py_ssize_t h = PyBytes_GET_SIZE(args[4]);
    PyObject *packets = args[8], *history = args[9];
    Py_ssize_t mask = PyList_GET_SIZE(history) - 1;
    if (h < 12 || max_packet + SRTP_TRAILER > SLOT || mask < 0 || (mask & (mask + 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "bad header, max_packet or history size");
        return NULL;
    }

    PyObject *ts_obj = PyLong_FromUnsignedLong(ts), *unsent = NULL;
    if (ts_obj == NULL)
        return NULL;
    long sent = 0, last_seq = -1;
    unsigned long long octets = 0;
    int count = 0;
    Py_ssize_t total = PyList_GET_SIZE(packets);
    for (Py_ssize_t i = 0; i < total; i++) {
        PyObject *item = PyList_GET_ITEM(packets, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3
                || !PyBytes_Check(PyTuple_GET_ITEM(item, 2))) {
            PyErr_SetString(PyExc_TypeError, "packets: (seq, marker, payload: bytes)");
            goto error;
        }
        long in_seq = PyLong_AsLong(PyTuple_GET_ITEM(item, 0));
        long marker = PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
        if (PyErr_Occurred())
            goto error;
        PyObject *payload = PyTuple_GET_ITEM(item, 2);
        Py_ssize_t plen = PyBytes_GET_SIZE(payload);
        long seq = (in_seq + delta) & 0xFFFF;
        last_seq = seq;
        if (h + plen > max_packet)
            continue;  /* larger than any MTU: not forwarded */
        unsigned char *p = slots[count];
        memcpy(p, header, (size_t)h);
        p[1] = (unsigned char)(pt | marker);
        p[2] = (unsigned char)(seq >> 8);
        p[3] = (unsigned char)seq;
        p[4] = (unsigned char)(ts >> 24);
        p[5] = (unsigned char)(ts >> 16);
        p[6] = (unsigned char)(ts >> 8);
        p[7] = (unsigned char)ts;
        memcpy(p + h, PyBytes_AS_STRING(payload), (size_t)plen);
        int length = (int)(h + plen);
        if (protect(ctx, p, &length) != 0)
            continue;  /* e.g. a duplicate from the publisher: libsrtp refuses a replay */
        PyObject *entry = Py_BuildValue("(llOO)", seq, pt | marker, ts_obj, payload);
        if (entry == NULL)
            goto error;
        PyObject *old = PyList_GET_ITEM(history, seq & mask);
        PyList_SET_ITEM(history, seq & mask, entry);
        Py_XDECREF(old);
        lengths[count++] = length;
        octets += (unsigned long long)plen;
        sent++;
        if (count == BATCH) {
            if (flush(count, (int)fd, &name, (socklen_t)namelen, &direct, &unsent) < 0)
                goto error;
            count = 0;
        }
    }
    if (count && flush(count, (int)fd, &name, (socklen_t)namelen, &direct, &unsent) < 0)
        goto error;
    Py_DECREF(ts_obj);
    if (unsent == NULL) {
        Py_INCREF(Py_None);
        unsent = Py_None;
    }
    return Py_BuildValue("(lKlN)", sent, octets, last_seq, unsent);

error:
    Py_DECREF(ts_obj);
    Py_XDECREF(unsent);
    return NULL;
}

PyDoc_STRVAR(sockaddr_doc,
"sockaddr(host, port) -> bytes: the struct sockaddr for write_frame (IPv4 or IPv6).");

static PyObject *
sockaddr(PyObject *self, PyObject *args)
{
    const char *host;
    int port;
    if (!PyArg_ParseTuple(args, "si", &host, &port))
        return NULL;
    if (port < 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "port out of range");
        return NULL;
    }
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons((uint16_t)port);
        return PyBytes_FromStringAndSize((const char *)&v4, sizeof(v4));
    }
    if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons((uint16_t)port);
        return PyBytes_FromStringAndSize((const char *)&v6, sizeof(v6));
    }
    PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
    return NULL;
}

static PyMethodDef methods[] = {
    {"write_frame", (PyCFunction)(void (*)(void))write_frame, METH_FASTCALL, write_frame_doc},
    {"sockaddr", sockaddr, METH_VARARGS, sockaddr_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fanout",
    "The direct path's per-packet loop (see media_node/sfu/fanout.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fanout(void)
{
    return PyModule_Create(&module);
}

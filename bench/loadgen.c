/*
 * loadgen - LogStream load generator for `pnpm bench` (adapted from the shared bench harness).
 *
 *   loadgen -s SOCK [-c CONNS] [-n MSGS_PER_CONN] [-m MSG_BYTES | -L LINE_BYTES] [-k SHAPE] [-H] [-A]
 *           [-b CHUNK] [-t TIMEOUT_S]
 *
 * Each connection (one writer thread, one reader thread) first builds its whole payload in
 * memory, connects and, with -H, sends the "daemon-name\n" handshake. When every connection is
 * ready the clock starts and the writers send the pre-built NDJSON in CHUNK-byte write()s.
 * Writes block, so what is measured is the receiver's pace, not ours.
 *
 * The reader drains whatever the receiver sends (LogStream's ready/ack/error frames) so that its
 * socket buffer never fills; a receiver blocked on writing acks would stop reading entries. It
 * counts error frames and keeps the highest cumulative ack. With -A the run ends for a
 * connection when the receiver has acknowledged all of its entries; without -A, when the
 * receiver closes the connection (at most TIMEOUT_S after the last write). We never close a
 * socket with unread bytes in it: on Linux that resets the peer, which may drop what it has not
 * read yet.
 *
 * Shapes (-k):
 *   canonical  complete entries in LogStream's canonical key order
 *              (id,timestamp,level,daemon,message,fields,pid,hostname), like DESIGN.md's example;
 *   reorder    the same keys and values in another order (level,message,daemon,hostname,pid,
 *              fields,timestamp,id), as a producer that builds its own JSON may send them;
 *   partial    only message and level: the receiver fills in id, timestamp, daemon, hostname.
 * Every entry has a unique reference REF = NNNNNNNN-CCCC-4xxx-8xxx-SSSSSSSSSSSS (N = run nonce,
 * C = connection, S = sequence, hex), which logcheck uses to count lost and repeated entries:
 * as the UUID-shaped id (canonical, reorder) or, in partial entries, at the start of the message
 * ("ref=REF "); the fields seq and conn (canonical, reorder) say the same for output formats that
 * drop the id. -L pads the message so that every line is exactly LINE_BYTES long (newline
 * included) when the shape's fixed part fits; -m sets the message length instead (default 20).
 *
 * Prints one line (elapsed: until the last write returned; acked_elapsed: until the last
 * connection was fully acknowledged, -1 without -A or when it never was):
 *   sent= bytes= elapsed= acked_elapsed= msgs_per_s= MB_per_s= conns= errors=
 * error_frames= acked= start_epoch= nonce=   (start_epoch: CLOCK_REALTIME when the clock started)
 *
 * Build: cc -O2 -pthread -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path = NULL;
static int nconn = 4;
static long nmsg = 250000;
static int msg_size = 20;
static long line_bytes = 0; /* -L: pad the message so that each line has this many bytes */
enum { SHAPE_CANONICAL, SHAPE_REORDER, SHAPE_PARTIAL };
static int shape = SHAPE_CANONICAL;
static int handshake = 0;
static int await_acks = 0;
static size_t chunk = 256 * 1024;
static double timeout_s = 120;
static uint32_t run_nonce;
static char hostname[64];
static int mypid;
static pthread_barrier_t start_barrier;
static pthread_attr_t thread_attr;
static double start_mono, start_real;

typedef struct {
    int idx;
    int fd;
    char *buf;
    size_t len;
    long sent;
    uint64_t bytes;
    int err;
    /* reader side */
    pthread_t reader;
    long acked;
    long error_frames;
    double wrote_at; /* monotonic time the last write returned */
    double acked_at; /* monotonic time of the ack that covered every entry, 0 if none */
    int reader_done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} conn_t;

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double realtime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline char *put_str(char *p, const char *s, size_t n) { memcpy(p, s, n); return p + n; }
#define PUT_LIT(p, lit) put_str((p), (lit), sizeof(lit) - 1)

static inline char *put_u64(char *p, uint64_t v) {
    char tmp[24];
    int i = 0;
    do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) *p++ = tmp[--i];
    return p;
}

static const char HEX[] = "0123456789abcdef";
static inline char *put_hex(char *p, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; i--) p[i] = HEX[v & 15], v >>= 4;
    return p + width;
}

/* ISO-8601 UTC timestamp with milliseconds; the date part is cached per second. */
typedef struct { time_t sec; char prefix[32]; size_t plen; } tscache_t;
static inline char *put_ts(char *p, tscache_t *c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != c->sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        c->plen = strftime(c->prefix, sizeof c->prefix, "%Y-%m-%dT%H:%M:%S.", &tm);
        c->sec = ts.tv_sec;
    }
    p = put_str(p, c->prefix, c->plen);
    int ms = (int)(ts.tv_nsec / 1000000);
    *p++ = (char)('0' + ms / 100); *p++ = (char)('0' + ms / 10 % 10); *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    return p;
}

/* One entry of shape `shape` into p (which has room for it); returns the end. `pad`: message bytes after the reference. */
static char *put_entry(char *p, const conn_t *c, long s, const char *daemon, size_t dlen, const char *tail, size_t tail_len,
                       const char *connstr, size_t clen, tscache_t *tsc, long pad) {
    char ref[36];
    {
        char *r = ref;
        r = put_hex(r, run_nonce, 8); *r++ = '-';
        r = put_hex(r, (uint64_t)c->idx, 4); *r++ = '-';
        *r++ = '4'; r = put_hex(r, (uint64_t)(s * 2654435761u) & 0xfff, 3); *r++ = '-';
        *r++ = '8'; r = put_hex(r, (uint64_t)(s * 40503u) & 0xfff, 3); *r++ = '-';
        put_hex(r, (uint64_t)s, 12);
    }
    static const char TEXT[] = "Request processed ";
    char level = (char)('0' + s % 8);
#define PUT_MESSAGE()                                                      \
    do {                                                                   \
        if (shape == SHAPE_PARTIAL) {                                      \
            p = PUT_LIT(p, "ref=");                                        \
            p = put_str(p, ref, 36);                                       \
            *p++ = ' ';                                                    \
        }                                                                  \
        for (long i = 0; i < pad; i++) *p++ = i < (long)sizeof TEXT - 1 ? TEXT[i] : 'x'; \
    } while (0)
#define PUT_FIELDS()                                                       \
    do {                                                                   \
        p = PUT_LIT(p, "\"fields\":{\"seq\":\"");                        \
        p = put_u64(p, (uint64_t)s);                                       \
        p = PUT_LIT(p, "\",\"conn\":\"");                                  \
        p = put_str(p, connstr, clen);                                     \
        p = PUT_LIT(p, "\"}");                                             \
    } while (0)
    switch (shape) {
    case SHAPE_PARTIAL:
        p = PUT_LIT(p, "{\"message\":\"");
        PUT_MESSAGE();
        p = PUT_LIT(p, "\",\"level\":");
        *p++ = level;
        p = PUT_LIT(p, "}\n");
        break;
    case SHAPE_REORDER:
        p = PUT_LIT(p, "{\"level\":");
        *p++ = level;
        p = PUT_LIT(p, ",\"message\":\"");
        PUT_MESSAGE();
        p = PUT_LIT(p, "\",\"daemon\":\"");
        p = put_str(p, daemon, dlen);
        p = PUT_LIT(p, "\",\"hostname\":\"");
        p = put_str(p, hostname, strlen(hostname));
        p = PUT_LIT(p, "\",\"pid\":");
        p = put_u64(p, (uint64_t)mypid);
        *p++ = ',';
        PUT_FIELDS();
        p = PUT_LIT(p, ",\"timestamp\":\"");
        p = put_ts(p, tsc);
        p = PUT_LIT(p, "\",\"id\":\"");
        p = put_str(p, ref, 36);
        p = PUT_LIT(p, "\"}\n");
        break;
    default:
        p = PUT_LIT(p, "{\"id\":\"");
        p = put_str(p, ref, 36);
        p = PUT_LIT(p, "\",\"timestamp\":\"");
        p = put_ts(p, tsc);
        p = PUT_LIT(p, "\",\"level\":");
        *p++ = level;
        p = PUT_LIT(p, ",\"daemon\":\"");
        p = put_str(p, daemon, dlen);
        p = PUT_LIT(p, "\",\"message\":\"");
        PUT_MESSAGE();
        p = PUT_LIT(p, "\",");
        PUT_FIELDS();
        p = put_str(p, tail, tail_len);
        break;
    }
#undef PUT_MESSAGE
#undef PUT_FIELDS
    return p;
}

/* Formats every entry of one connection into c->buf. */
static int build_payload(conn_t *c, const char *daemon, size_t dlen) {
    char tail[128];
    int tail_len = snprintf(tail, sizeof tail, ",\"pid\":%d,\"hostname\":\"%s\"}\n", mypid, hostname);
    char connstr[16];
    int clen = snprintf(connstr, sizeof connstr, "%d", c->idx);
    long fixed_pad = shape == SHAPE_PARTIAL ? (msg_size > 41 ? msg_size - 41 : 0) : msg_size; /* partial: "ref=REF " first */
    size_t maxline = (size_t)(line_bytes > 0 ? line_bytes : 0) + (size_t)fixed_pad + dlen + 512;
    size_t cap = (size_t)nmsg * maxline + maxline;
    char *buf = malloc(cap);
    char *scratch = malloc(maxline);
    if (!buf || !scratch) { free(buf); free(scratch); return -1; }
    char *p = buf;
    tscache_t tsc = {0};
    for (long s = 0; s < nmsg; s++) {
        long pad = fixed_pad;
        if (line_bytes > 0) {
            /* The line without padding tells how much padding makes it line_bytes long. */
            tscache_t probe = tsc;
            long bare = (long)(put_entry(scratch, c, s, daemon, dlen, tail, (size_t)tail_len, connstr, (size_t)clen, &probe, 0) - scratch);
            pad = line_bytes > bare ? line_bytes - bare : 0;
        }
        p = put_entry(p, c, s, daemon, dlen, tail, (size_t)tail_len, connstr, (size_t)clen, &tsc, pad);
    }
    free(scratch);
    c->buf = buf;
    c->len = (size_t)(p - buf);
    return 0;
}

/* Handles one line from the receiver: a cumulative ack, an error frame, or anything else. */
static void on_line(conn_t *c, const char *line, size_t n) {
    if (memmem(line, n, "\"type\":\"ack\"", 12)) {
        const char *s = memmem(line, n, "\"seq\":", 6);
        if (s) {
            long v = strtol(s + 6, NULL, 10);
            if (v > c->acked) c->acked = v;
        }
    } else if (memmem(line, n, "\"type\":\"error\"", 14)) {
        if (c->error_frames++ < 3) fprintf(stderr, "conn %d: %.*s\n", c->idx, (int)(n > 300 ? 300 : n), line);
    }
}

static void *reader_main(void *arg) {
    conn_t *c = arg;
    static __thread char buf[64 * 1024];
    char line[4096];
    size_t ll = 0;
    for (;;) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] == '\n') {
                on_line(c, line, ll);
                ll = 0;
            } else if (ll < sizeof line) {
                line[ll++] = buf[i];
            }
        }
        /* Entries the server counted but we never sent (a handshake counted as a line) are harmless. */
        if (await_acks && c->acked >= nmsg && c->acked_at == 0) {
            c->acked_at = mono();
            break;
        }
    }
    pthread_mutex_lock(&c->mu);
    c->reader_done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void *conn_main(void *arg) {
    conn_t *c = arg;
    char daemon[32];
    int dlen = snprintf(daemon, sizeof daemon, "loadgen-%d", c->idx);
    c->fd = -1;
    if (build_payload(c, daemon, (size_t)dlen) < 0) {
        fprintf(stderr, "conn %d: out of memory\n", c->idx);
        c->err = 1;
    }
    if (!c->err) {
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strncpy(sa.sun_path, sock_path, sizeof sa.sun_path - 1);
        int tries = 0;
        while (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            if ((errno == EAGAIN || errno == ECONNREFUSED || errno == ENOENT) && tries++ < 500) { usleep(10000); continue; }
            fprintf(stderr, "conn %d: connect %s: %s\n", c->idx, sock_path, strerror(errno));
            c->err = 1;
            close(c->fd);
            c->fd = -1;
            break;
        }
    }
    if (!c->err && handshake) {
        char hs[40];
        int n = snprintf(hs, sizeof hs, "%s\n", daemon);
        if (write_all(c->fd, hs, (size_t)n) < 0) { perror("write handshake"); c->err = 1; }
    }
    if (c->fd >= 0 && pthread_create(&c->reader, &thread_attr, reader_main, c) != 0) {
        fprintf(stderr, "conn %d: cannot start its reader thread\n", c->idx);
        c->err = 1;
        close(c->fd);
        c->fd = -1;
    }
    if (c->fd < 0) c->reader_done = 1;

    pthread_barrier_wait(&start_barrier);
    if (!c->err) {
        for (size_t off = 0; off < c->len; off += chunk) {
            size_t n = c->len - off < chunk ? c->len - off : chunk;
            if (write_all(c->fd, c->buf + off, n) < 0) {
                fprintf(stderr, "conn %d: write: %s\n", c->idx, strerror(errno));
                c->err = 1;
                break;
            }
            c->bytes += n;
        }
        if (!c->err) c->sent = nmsg;
        c->wrote_at = mono();
        shutdown(c->fd, SHUT_WR);
    }

    /* Wait for the reader: all acks (with -A) or the receiver closing, within timeout_s. */
    if (c->fd >= 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += (time_t)timeout_s;
        pthread_mutex_lock(&c->mu);
        while (!c->reader_done) {
            if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) break;
        }
        int done = c->reader_done;
        pthread_mutex_unlock(&c->mu);
        if (!done) {
            fprintf(stderr, "conn %d: receiver did not %s within %.0f s (acked %ld of %ld)\n", c->idx,
                    await_acks ? "acknowledge every entry" : "close the connection", timeout_s, c->acked, nmsg);
            if (await_acks) c->err = 1;
            shutdown(c->fd, SHUT_RDWR);
        }
        pthread_join(c->reader, NULL);
        close(c->fd);
    }
    free(c->buf);
    return NULL;
}

static void usage(const char *a0) {
    fprintf(stderr,
            "usage: %s -s SOCKET [-c CONNS] [-n MSGS_PER_CONN] [-m MSG_BYTES | -L LINE_BYTES] [-k SHAPE] [-H] [-A] [-b CHUNK] [-t TIMEOUT_S]\n"
            "  -c  concurrent connections, default 4\n"
            "  -n  entries per connection, default 250000\n"
            "  -m  bytes of the \"message\" field (at least 41 for partial entries: \"ref=REF \"), default 20\n"
            "  -L  pad the message so that every line is LINE_BYTES long (newline included)\n"
            "  -k  canonical (default), reorder (same keys, another order) or partial (only message and level)\n"
            "  -H  send the \"daemon-name\\n\" handshake line first (LogStream protocol)\n"
            "  -A  wait until the receiver acknowledges every entry (LogStream ack frames)\n"
            "  -b  bytes per write(), default 262144\n"
            "  -t  seconds to wait for the acks / the receiver's close after the last write, default 120\n",
            a0);
    exit(2);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "s:c:n:m:L:k:HAb:t:h")) != -1) {
        switch (opt) {
        case 's': sock_path = optarg; break;
        case 'c': nconn = atoi(optarg); break;
        case 'n': nmsg = atol(optarg); break;
        case 'm': msg_size = atoi(optarg); break;
        case 'L': line_bytes = atol(optarg); break;
        case 'k':
            if (!strcmp(optarg, "canonical")) shape = SHAPE_CANONICAL;
            else if (!strcmp(optarg, "reorder")) shape = SHAPE_REORDER;
            else if (!strcmp(optarg, "partial")) shape = SHAPE_PARTIAL;
            else { fprintf(stderr, "loadgen: -k %s: expected canonical, reorder or partial\n", optarg); exit(2); }
            break;
        case 'H': handshake = 1; break;
        case 'A': await_acks = 1; break;
        case 'b': chunk = (size_t)atol(optarg); break;
        case 't': timeout_s = atof(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (!sock_path || nconn < 1 || nconn > 4096 || nmsg < 1 || msg_size < 0 || line_bytes < 0 || chunk < 1 || timeout_s <= 0) usage(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    /* One socket per connection: raise the soft open-file limit to the hard one for many connections. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (rlim_t)nconn + 16 > rl.rlim_cur) {
        fprintf(stderr, "loadgen: %d connections need more open files than the limit %llu allows (raise ulimit -n)\n", nconn,
                (unsigned long long)rl.rlim_cur);
        return 2;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    run_nonce = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 12) ^ ((uint32_t)getpid() << 20));
    gethostname(hostname, sizeof hostname - 1);
    mypid = getpid();

    conn_t *cs = calloc((size_t)nconn, sizeof *cs);
    pthread_t *th = calloc((size_t)nconn, sizeof *th);
    pthread_barrier_init(&start_barrier, NULL, (unsigned)nconn + 1);
    /* Two threads per connection, up to thousands of them: small stacks (the default is 8 MiB). */
    pthread_attr_init(&thread_attr);
    pthread_attr_setstacksize(&thread_attr, 256 * 1024);
    for (int i = 0; i < nconn; i++) {
        cs[i].idx = i;
        pthread_mutex_init(&cs[i].mu, NULL);
        pthread_cond_init(&cs[i].cv, NULL);
        if (pthread_create(&th[i], &thread_attr, conn_main, &cs[i]) != 0) {
            fprintf(stderr, "loadgen: cannot start thread %d of %d\n", i, nconn);
            return 2;
        }
    }
    pthread_barrier_wait(&start_barrier);
    start_mono = mono();
    start_real = realtime();

    long total = 0, acked = 0, error_frames = 0;
    uint64_t bytes = 0;
    int errs = 0;
    double last_ack = 0, last_write = 0;
    int all_acked = await_acks;
    for (int i = 0; i < nconn; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].sent;
        bytes += cs[i].bytes;
        errs += cs[i].err;
        acked += cs[i].acked;
        error_frames += cs[i].error_frames;
        if (cs[i].acked_at == 0) all_acked = 0;
        if (cs[i].acked_at > last_ack) last_ack = cs[i].acked_at;
        if (cs[i].wrote_at > last_write) last_write = cs[i].wrote_at;
    }
    /* elapsed: until the last write returned; acked_elapsed: until the last connection was fully acked (-1: never) */
    double el = last_write > 0 ? last_write - start_mono : mono() - start_mono;
    double acked_el = all_acked ? last_ack - start_mono : -1;
    printf("sent=%ld bytes=%llu elapsed=%.3f acked_elapsed=%.3f msgs_per_s=%.0f MB_per_s=%.1f conns=%d errors=%d "
           "error_frames=%ld acked=%ld start_epoch=%.6f nonce=%08x\n",
           total, (unsigned long long)bytes, el, acked_el, total / el, bytes / el / 1e6, nconn, errs, error_frames, acked,
           start_real, run_nonce);
    return errs ? 1 : 0;
}

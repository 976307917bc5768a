/*
 * The tunnels/s load generator in C (a Node.js client spends ~60 µs of CPU per tunnel, as much
 * as some proxies): keeps CONCURRENCY tunnels in flight, each = TCP connect + SOCKS5 handshake
 * (RFC 1928: greeting with method 00, wait for the selection, CONNECT request, wait for the
 * reply — not pipelined) + 1-byte echo + close, counts those completed inside the measured window.
 * usage: tunnels PROXY_PORT|0 DEST_PORT[,DEST_PORT...] CONCURRENCY WARMUP_MS DURATION_MS TIMEOUT_MS
 * (everything on 127.0.0.1; PROXY_PORT 0 = direct). Prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { IDLE, CONNECTING, METHOD, REPLY, ECHO };

struct conn {
  int fd;
  enum state state;
  double deadline;
  unsigned char in[262 + 8];
  size_t have;
  int dest_port;
};

static int ep, proxy_port, ndest, dest_ports[64];
static long completed, errors, started;
static double start_at, stop_at, timeout_ms;
static char first_error[160];

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void note_error(const char *what, int err) {
  errors++;
  if (first_error[0] == 0)
    snprintf(first_error, sizeof first_error, "%s: %s", what, err ? strerror(err) : "protocol");
}

static void open_conn(struct conn *c);

static void finish(struct conn *c, int ok, const char *what, int err) {
  close(c->fd);
  c->fd = -1;
  c->state = IDLE;
  double t = now_ms();
  if (ok && t >= start_at && t < stop_at) completed++;
  if (!ok) note_error(what, err);
  if (t < stop_at && errors <= 1000) open_conn(c);
}

static void open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    note_error("socket", errno);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->dest_port = dest_ports[started++ % ndest];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  a.sin_port = htons(proxy_port ? proxy_port : c->dest_port);
  c->state = CONNECTING;
  c->have = 0;
  c->deadline = now_ms() + timeout_ms;
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    int e = errno;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    finish(c, 0, "connect", e);
    return;
  }
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void send_and_read(struct conn *c, const void *bytes, size_t len, enum state next) {
  if (write(c->fd, bytes, len) != (ssize_t)len) {
    finish(c, 0, "write", errno);
    return;
  }
  c->state = next;
  c->have = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT; the length depends on ATYP. */
static size_t reply_length(const unsigned char *r, size_t have) {
  if (have < 5) return 0;
  return r[3] == 1 ? 10 : r[3] == 4 ? 22 : r[3] == 3 ? 7 + (size_t)r[4] : (size_t)-1;
}

static void on_event(struct conn *c, uint32_t events) {
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || (events & EPOLLERR)) {
      finish(c, 0, "connect", err);
      return;
    }
    static const unsigned char greeting[3] = {5, 1, 0}; /* VER, NMETHODS, METHOD 00 */
    if (proxy_port) send_and_read(c, greeting, 3, METHOD);
    else send_and_read(c, "x", 1, ECHO);
    return;
  }
  ssize_t n = read(c->fd, c->in + c->have, sizeof c->in - c->have);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    finish(c, 0, c->state == ECHO ? "echo" : "handshake", n < 0 ? errno : ECONNRESET);
    return;
  }
  c->have += (size_t)n;
  if (c->state == METHOD) {
    if (c->have < 2) return;
    if (c->in[0] != 5 || c->in[1] != 0) {
      finish(c, 0, "method selection", 0);
      return;
    }
    /* VER CMD=CONNECT RSV ATYP=IPv4 127.0.0.1 PORT */
    unsigned char req[10] = {5, 1, 0, 1, 127, 0, 0, 1, (unsigned char)(c->dest_port >> 8),
                             (unsigned char)(c->dest_port & 255)};
    send_and_read(c, req, sizeof req, REPLY);
  } else if (c->state == REPLY) {
    size_t need = reply_length(c->in, c->have);
    if (need == 0 || c->have < need) return;
    if (need == (size_t)-1 || c->in[1] != 0) {
      finish(c, 0, "reply", 0);
      return;
    }
    send_and_read(c, "x", 1, ECHO);
  } else {
    finish(c, 1, NULL, 0);
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: tunnels PROXY_PORT|0 DEST_PORTS CONCURRENCY WARMUP_MS DURATION_MS TIMEOUT_MS\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  proxy_port = atoi(argv[1]);
  for (char *p = strtok(argv[2], ","); p != NULL && ndest < 64; p = strtok(NULL, ",")) dest_ports[ndest++] = atoi(p);
  int concurrency = atoi(argv[3]);
  if (ndest == 0 || concurrency < 1 || concurrency > 4096) return 2;
  double t0 = now_ms();
  start_at = t0 + atof(argv[4]);
  stop_at = start_at + atof(argv[5]);
  timeout_ms = atof(argv[6]);
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
  for (int i = 0; i < concurrency; i++) open_conn(&conns[i]);

  struct epoll_event events[512];
  for (;;) {
    int live = 0;
    double t = now_ms();
    for (int i = 0; i < concurrency; i++) {
      if (conns[i].state == IDLE) continue;
      if (t > conns[i].deadline) finish(&conns[i], 0, "timeout", ETIMEDOUT);
      if (conns[i].state != IDLE) live++;
    }
    if (live == 0 && (t >= stop_at || errors > 1000)) break;
    if (t > stop_at + 2 * timeout_ms) break; /* bounded even if something hangs */
    int n = epoll_wait(ep, events, 512, 10);
    for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  double elapsed = (now_ms() - t0) / 1e3;
  printf("{\"perSec\":%.1f,\"completed\":%ld,\"errors\":%ld,\"cpuPct\":%.1f,\"firstError\":\"%s\"}\n",
         completed / (atof(argv[5]) / 1e3), completed, errors, 100.0 * cpu / elapsed, first_error);
  return 0;
}

/*
 * The bench's targets in C, one epoll loop, so that the direct baseline is limited by the kernel
 * rather than by a JavaScript event loop: TCP echo on N ports, TCP discard (upload sink), TCP
 * source (download: writes one static buffer while the socket is writable), UDP echo.
 * Loopback only. Prints one JSON line with the ports, then serves until stdin closes or a signal.
 * Build: cc -O2 -o targets targets.c        usage: targets [ECHO_PORTS]
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
#include <sys/socket.h>
#include <unistd.h>

enum kind { ECHO_LISTEN, DISCARD_LISTEN, SOURCE_LISTEN, UDP_ECHO, ECHO, DISCARD, SOURCE, CONTROL };

/* The epoll user data: kind in the high 32 bits, fd in the low 32. */
#define TAG(kind, fd) (((uint64_t)(kind) << 32) | (uint32_t)(fd))

static int ep;
static char buf[256 * 1024];
static char source_chunk[256 * 1024];

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void watch(int fd, enum kind kind, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = TAG(kind, fd)};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static int listen_on(int type, int *port) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, 4096) < 0) die("listen");
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void accept_all(int lfd, enum kind kind) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return; /* EAGAIN, or out of fds: the client sees a stall, the bench an error */
    if (kind == ECHO) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    watch(fd, kind, kind == SOURCE ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }
}

/* Echo: payloads here are tiny (1 byte); a short write drops the connection rather than buffer. */
static void on_echo(int fd) {
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      if (write(fd, buf, (size_t)n) != n) break;
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;
    break;
  }
  close(fd);
}

static void on_discard(int fd) {
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EAGAIN) return;
    break;
  }
  close(fd);
}

static void on_source(int fd, uint32_t events) {
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN) || (events & (EPOLLERR | EPOLLHUP))) {
      close(fd);
      return;
    }
  }
  if (events & EPOLLOUT) {
    for (;;) {
      ssize_t n = write(fd, source_chunk, sizeof source_chunk);
      if (n > 0) continue;
      if (n < 0 && errno == EAGAIN) return;
      close(fd);
      return;
    }
  }
}

static void on_udp(int fd) {
  struct sockaddr_in from;
  for (;;) {
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
    if (n < 0) return;
    sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
  }
}

int main(int argc, char **argv) {
  int echo_ports = argc > 1 ? atoi(argv[1]) : 8;
  if (echo_ports < 1 || echo_ports > 64) echo_ports = 8;
  signal(SIGPIPE, SIG_IGN); /* a client that closes mid-download is normal, not fatal */
  memset(source_chunk, 'b', sizeof source_chunk);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  printf("{\"echo\":[");
  for (int i = 0; i < echo_ports; i++) {
    int port, fd = listen_on(SOCK_STREAM, &port);
    watch(fd, ECHO_LISTEN, EPOLLIN);
    printf("%s%d", i ? "," : "", port);
  }
  int port, fd;
  fd = listen_on(SOCK_STREAM, &port);
  watch(fd, DISCARD_LISTEN, EPOLLIN);
  printf("],\"discard\":%d", port);
  fd = listen_on(SOCK_STREAM, &port);
  watch(fd, SOURCE_LISTEN, EPOLLIN);
  printf(",\"source\":%d", port);
  fd = listen_on(SOCK_DGRAM, &port);
  watch(fd, UDP_ECHO, EPOLLIN);
  printf(",\"udpEcho\":%d}\n", port);
  fflush(stdout);
  watch(0, CONTROL, EPOLLIN); /* stdin closes when the bench goes away */

  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      enum kind kind = (enum kind)(events[i].data.u64 >> 32);
      int efd = (int)(uint32_t)events[i].data.u64;
      switch (kind) {
        case ECHO_LISTEN: accept_all(efd, ECHO); break;
        case DISCARD_LISTEN: accept_all(efd, DISCARD); break;
        case SOURCE_LISTEN: accept_all(efd, SOURCE); break;
        case UDP_ECHO: on_udp(efd); break;
        case ECHO: on_echo(efd); break;
        case DISCARD: on_discard(efd); break;
        case SOURCE: on_source(efd, events[i].events); break;
        case CONTROL: return 0;
      }
    }
  }
}

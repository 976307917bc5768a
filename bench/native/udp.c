/*
 * The UDP datagrams/s load generator in C: keeps WINDOW datagrams of SIZE bytes in flight to the
 * UDP echo target — directly, or through a SOCKS5 UDP ASSOCIATE relay (RFC 1928 §6, §7: each
 * datagram carries RSV(2) FRAG ATYP=IPv4 DST.ADDR DST.PORT before the payload) — and counts the
 * echoes that come back inside the measured window. When nothing comes back for 20 ms the window
 * is taken as lost and sent again (UDP drops under load; the count is of what arrived).
 * usage: udp PROXY_PORT|0 DEST_PORT WINDOW SIZE WARMUP_MS DURATION_MS   (all on 127.0.0.1)
 * Prints one JSON line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void fail(const char *what) {
  printf("{\"perSec\":0,\"errors\":1,\"cpuPct\":0,\"firstError\":\"%s: %s\"}\n", what, strerror(errno));
  exit(0);
}

static int read_exactly(int fd, unsigned char *buf, size_t len) {
  for (size_t have = 0; have < len;) {
    ssize_t n = read(fd, buf + have, len - have);
    if (n <= 0) return -1;
    have += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: udp PROXY_PORT|0 DEST_PORT WINDOW SIZE WARMUP_MS DURATION_MS\n");
    return 2;
  }
  int proxy_port = atoi(argv[1]), dest_port = atoi(argv[2]), window = atoi(argv[3]);
  size_t size = (size_t)atoi(argv[4]);
  double warmup = atof(argv[5]), duration = atof(argv[6]);
  if (window < 1 || size < 1 || size > 60000) return 2;

  int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof local;
  if (u < 0 || bind(u, (struct sockaddr *)&local, sizeof local) < 0) fail("udp bind");
  getsockname(u, (struct sockaddr *)&local, &len);

  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  peer.sin_port = htons(dest_port);
  unsigned char *datagram = calloc(1, size + 10);
  size_t header = 0;
  int control = -1;
  if (proxy_port) {
    control = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in p = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    p.sin_port = htons(proxy_port);
    if (control < 0 || connect(control, (struct sockaddr *)&p, sizeof p) < 0) fail("connect");
    unsigned char greeting[3] = {5, 1, 0}, sel[2];
    if (write(control, greeting, 3) != 3 || read_exactly(control, sel, 2) < 0) fail("greeting");
    if (sel[0] != 5 || sel[1] != 0) fail("method selection");
    /* UDP ASSOCIATE, DST = the address our datagrams will come from */
    unsigned char req[10] = {5, 3, 0, 1, 127, 0, 0, 1};
    memcpy(req + 8, &local.sin_port, 2);
    unsigned char rep[10];
    if (write(control, req, 10) != 10 || read_exactly(control, rep, 10) < 0) fail("associate");
    if (rep[1] != 0 || rep[3] != 1) {
      errno = EPROTO;
      fail("associate reply");
    }
    memcpy(&peer.sin_addr, rep + 4, 4);
    memcpy(&peer.sin_port, rep + 8, 2);
    if (peer.sin_addr.s_addr == 0) peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* RSV RSV FRAG=0 ATYP=1 127.0.0.1 DEST_PORT */
    unsigned char h[10] = {0, 0, 0, 1, 127, 0, 0, 1, (unsigned char)(dest_port >> 8), (unsigned char)dest_port};
    memcpy(datagram, h, 10);
    header = 10;
  }
  memset(datagram + header, 'u', size);
  if (connect(u, (struct sockaddr *)&peer, sizeof peer) < 0) fail("udp connect");

  static unsigned char in[65536];
  long received = 0, counted = 0, sent = 0, send_errors = 0, refills = 0;
  int inflight = 0;
  double t0 = now_ms(), start_at = t0 + warmup, stop_at = start_at + duration, last_progress = t0;
  struct pollfd pfd = {.fd = u, .events = POLLIN};
  for (;;) {
    double t = now_ms();
    if (t >= stop_at) break;
    while (inflight < window) {
      if (send(u, datagram, header + size, MSG_DONTWAIT) < 0) {
        send_errors++;
        break;
      }
      sent++;
      inflight++;
    }
    int n = poll(&pfd, 1, 20);
    if (n > 0) {
      for (;;) {
        ssize_t r = recv(u, in, sizeof in, MSG_DONTWAIT);
        if (r < 0) break;
        received++;
        inflight--;
        double at = now_ms();
        if (at >= start_at && at < stop_at) counted++;
        last_progress = at;
      }
    } else if (now_ms() - last_progress >= 20) {
      inflight = 0; /* the window was lost */
      refills++;
      last_progress = now_ms();
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  printf("{\"perSec\":%.1f,\"errors\":%ld,\"cpuPct\":%.1f,\"sent\":%ld,\"received\":%ld,\"refills\":%ld,\"firstError\":\"%s\"}\n",
         counted / (duration / 1e3), counted == 0 ? 1L : 0L, 100.0 * cpu / ((now_ms() - t0) / 1e3), sent, received,
         refills, counted == 0 ? "no datagram came back" : "");
  if (control >= 0) close(control);
  return 0;
}

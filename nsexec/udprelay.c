//go:build ignore
//
// Compiled as part of nsexec_unit.c (see there), not on its own.

// SPDX-License-Identifier: Apache-2.0
//
// udprelay.c: published UDP ports, relayed by the keeper (keeper.c).
//
// The helpers forward TCP well, but the UDP of Debian 12's helpers cannot
// answer a client on the host's loopback: slirp4netns drops the answer to
// 10.0.2.2 with --disable-host-loopback (podman#4586), and pasta 2023's
// loopback path carries no answers either. So sbx binds the host's side of
// each published UDP port itself and hands the socket to the keeper, which
// has joined the sandbox's user and network namespaces: for each client it
// opens a socket in there, connected to 127.0.0.1:PORT, sends the client's
// datagrams through it and the answers back from the host's socket. Inside,
// a client shows as 127.0.0.1 (as with docker's userland proxy). The relay
// copies datagrams and reads nothing in them.

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "udprelay.h"

// UDP_RELAY_IDLE is how long a client's socket stays without traffic.
#define UDP_RELAY_IDLE 120

static char relay_buf[65536];

SBX_INTERNAL int udp_relay_pollfds(struct udp_relay *r, struct pollfd *fds)
{
	int n = 0;
	for (int i = 0; i < r->nports; i++)
		fds[n++] = (struct pollfd){ .fd = r->ports[i].host_fd, .events = POLLIN };
	for (int i = 0; i < UDP_RELAY_MAX_FLOWS; i++)
		fds[n++] = (struct pollfd){ .fd = r->flows[i].inside_fd, .events = POLLIN };
	return n;
}

// flow_close frees a client's slot.
static void flow_close(struct udp_relay_flow *f)
{
	if (f->inside_fd >= 0)
		close(f->inside_fd);
	f->inside_fd = -1;
}

// flow_for returns the flow of client on port p, opening one (and closing
// the idlest, when all are taken, and those idle too long); NULL if no
// socket can be had.
static struct udp_relay_flow *flow_for(struct udp_relay *r, int p, const struct sockaddr_storage *client, socklen_t len, time_t now)
{
	struct udp_relay_flow *free_slot = NULL, *oldest = NULL;
	for (int i = 0; i < UDP_RELAY_MAX_FLOWS; i++) {
		struct udp_relay_flow *f = &r->flows[i];
		if (f->inside_fd >= 0 && now - f->last > UDP_RELAY_IDLE)
			flow_close(f);
		if (f->inside_fd < 0) {
			if (free_slot == NULL)
				free_slot = f;
			continue;
		}
		if (f->port == p && f->client_len == len && memcmp(&f->client, client, len) == 0)
			return f;
		if (oldest == NULL || f->last < oldest->last)
			oldest = f;
	}
	struct udp_relay_flow *f = free_slot;
	if (f == NULL) {
		f = oldest;
		flow_close(f);
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(r->ports[p].port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return NULL;
	}
	*f = (struct udp_relay_flow){ .inside_fd = fd, .port = p, .client_len = len };
	memcpy(&f->client, client, len);
	return f;
}

// from_host relays what waits on port p's host socket into the sandbox.
static void from_host(struct udp_relay *r, int p, time_t now)
{
	for (;;) {
		struct sockaddr_storage client;
		socklen_t len = sizeof(client);
		ssize_t n = recvfrom(r->ports[p].host_fd, relay_buf, sizeof(relay_buf), MSG_DONTWAIT, (struct sockaddr *)&client, &len);
		if (n < 0)
			return; // EAGAIN: drained; anything else: the next poll tells
		struct udp_relay_flow *f = flow_for(r, p, &client, len, now);
		if (f == NULL)
			continue; // out of sockets: the datagram is lost, as UDP may
		f->last = now;
		// ECONNREFUSED (nothing listens yet) and a full buffer lose it.
		send(f->inside_fd, relay_buf, (size_t)n, MSG_DONTWAIT);
	}
}

// to_client relays the sandbox's answers on flow f back to its client.
static void to_client(struct udp_relay *r, struct udp_relay_flow *f, time_t now)
{
	for (;;) {
		ssize_t n = recv(f->inside_fd, relay_buf, sizeof(relay_buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED && errno != EINTR)
				flow_close(f);
			return;
		}
		f->last = now;
		sendto(r->ports[f->port].host_fd, relay_buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client, f->client_len);
	}
}

// relay_now is the time in seconds that idle flows are measured in (not
// the wall clock, which may jump).
static time_t relay_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

SBX_INTERNAL void udp_relay_handle(struct udp_relay *r, const struct pollfd *fds, int n)
{
	time_t now = relay_now();
	for (int i = 0; i < n; i++) {
		if (fds[i].revents == 0 || fds[i].fd < 0)
			continue;
		if (i < r->nports)
			from_host(r, i, now);
		else if (r->flows[i - r->nports].inside_fd == fds[i].fd)
			to_client(r, &r->flows[i - r->nports], now);
	}
}

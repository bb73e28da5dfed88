// SPDX-License-Identifier: Apache-2.0
//
// udprelay.h (internal to nsexec): the keeper's relay of published UDP
// ports.
#ifndef SBX_UDPRELAY_H
#define SBX_UDPRELAY_H

#include "internal.h"

#include <poll.h>
#include <stdint.h>
#include <time.h>

// UDP_RELAY_MAX_PORTS bounds the published UDP ports of one sandbox, and
// UDP_RELAY_MAX_FLOWS the clients relayed at once (the oldest goes first).
#define UDP_RELAY_MAX_PORTS 64
#define UDP_RELAY_MAX_FLOWS 256

// udp_relay_port is one published UDP port: the host's socket sbx bound,
// and the sandbox's port its datagrams go to.
struct udp_relay_port {
	int host_fd;
	uint16_t port;
};

// udp_relay_flow is one client of a port: its address on the host's side
// and the socket, in the sandbox's network namespace, that carries its
// datagrams to the port and the answers back.
struct udp_relay_flow {
	int inside_fd; // -1: free
	int port;      // index in udp_relay.ports
	struct sockaddr_storage client;
	socklen_t client_len;
	time_t last;
};

struct udp_relay {
	struct udp_relay_port ports[UDP_RELAY_MAX_PORTS];
	int nports;
	struct udp_relay_flow flows[UDP_RELAY_MAX_FLOWS];
};

// udp_relay_pollfds fills fds (room for UDP_RELAY_MAX_PORTS +
// UDP_RELAY_MAX_FLOWS) with what the relay waits on and returns how many.
SBX_INTERNAL int udp_relay_pollfds(struct udp_relay *r, struct pollfd *fds);

// udp_relay_handle moves the datagrams waiting on the n descriptors of fds
// (as udp_relay_pollfds filled them, with revents set).
SBX_INTERNAL void udp_relay_handle(struct udp_relay *r, const struct pollfd *fds, int n);

#endif

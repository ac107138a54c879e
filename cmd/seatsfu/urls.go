package main

import (
	"net"
	"net/netip"
)

// openURL is the address a person types to reach a server listening on
// addr: an unspecified host ([::]:7880, 0.0.0.0:7880, :7880) is reached as
// localhost on this machine.
func openURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

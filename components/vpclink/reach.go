package vpclink

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SSHProbePatience is how long, during an update (never a preview), the
// program tries to open a TCP connection to port 22 of an instance before
// it warns that it cannot reach it. A new instance needs part of a minute
// before sshd answers; an existing one answers at once unless the
// security group (sshAllowedCidrs) or the network keeps this machine out.
// Zero turns the probe off (unit tests whose addresses are not real).
var SSHProbePatience = 60 * time.Second

// sshProbe returns host, once this machine has opened a TCP connection to
// host:22 or SSHProbePatience has passed. In the second case it warns, on
// res, with the address, the rule (sshAllowedCidrs) and the remedy: the
// remote steps that must run there would otherwise fail only after their
// whole dial budget, with a bare timeout. It waits for after, the
// resources that make the host reachable (its SSH rules among them), so a
// rule added in the same update is in place before the probe.
func sshProbe(ctx *pulumi.Context, res pulumi.Resource, what string, host pulumi.StringOutput, allowed []string, after []pulumi.Resource) pulumi.StringOutput {
	if ctx.DryRun() || SSHProbePatience <= 0 {
		return host
	}
	gate := make([]any, 0, len(after)+1)
	gate = append(gate, host)
	for _, r := range after {
		if c, ok := r.(pulumi.CustomResource); ok {
			gate = append(gate, c.ID())
		}
	}
	return pulumi.All(gate...).ApplyT(func(v []any) string {
		h := v[0].(string)
		if h == "" {
			return h
		}
		addr := net.JoinHostPort(h, "22")
		deadline := time.Now().Add(SSHProbePatience)
		var err error
		for {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
				c.Close()
				return h
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		_ = ctx.Log.Warn(unreachableMessage(addr, what, allowed, err), &pulumi.LogArgs{Resource: res})
		return h
	}).(pulumi.StringOutput)
}

// unreachableMessage names the address, the rule and the remedy.
func unreachableMessage(addr, what string, allowed []string, err error) string {
	return fmt.Sprintf("cannot reach %s (%s) from this machine after %s (%v). "+
		"Its security group admits SSH only from vpclink:sshAllowedCidrs = [%s]: if this machine's public address is outside them, "+
		"add it (pulumi config set --path 'vpclink:sshAllowedCidrs[%d]' ADDRESS/32; the next `pulumi up` adds the rule before any remote step) "+
		"or run from an allowed network. If the instance is stopped or has failed, start it (with high availability its "+
		"site's failover monitor keeps the traffic on the second VPN instance meanwhile). Remote steps that must run there "+
		"will fail once their SSH dial budget is spent; `pulumi destroy` needs no SSH.",
		addr, what, SSHProbePatience, err, strings.Join(allowed, ", "), len(allowed))
}

// A program the type check must refuse (TestTypeScriptExample checks it
// fails): a site without its vpcCidr, and a port given as a string.
import * as vpclink from "@vpclink/vpclink";

new vpclink.Network("network", {
    sites: [{
        name: "a", region: "eu-west-1",
        vpnSubnetCidr: "10.0.0.0/24", terminalSubnetCidr: "10.0.1.0/24",
        vpnPrivateIp: "10.0.0.10", terminalPrivateIp: "10.0.1.30",
    }],
    tunnelPort: "1194",
});

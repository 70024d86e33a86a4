// The reference topology (Ireland <-> São Paulo) as one vpclink Network,
// from the SDK that `pulumi package add <repo>/provider` generates.
import * as pulumi from "@pulumi/pulumi";
import * as vpclink from "@vpclink/vpclink";

const config = new pulumi.Config();
// Narrow SSH to your own address: pulumi config set --path 'sshAllowedCidrs[0]' A.B.C.D/32
const sshAllowedCidrs = config.getObject<string[]>("sshAllowedCidrs") ?? ["0.0.0.0/0"];

const sites: vpclink.types.input.SiteArgs[] = [
    {
        name: "a", region: "eu-west-1", vpcCidr: "10.0.0.0/16",
        vpnSubnetCidr: "10.0.0.0/24", terminalSubnetCidr: "10.0.1.0/24",
        vpnPrivateIp: "10.0.0.10", terminalPrivateIp: "10.0.1.30",
    },
    {
        name: "b", region: "sa-east-1", vpcCidr: "10.1.0.0/16",
        vpnSubnetCidr: "10.1.0.0/24", terminalSubnetCidr: "10.1.1.0/24",
        vpnPrivateIp: "10.1.0.20", terminalPrivateIp: "10.1.1.40",
    },
];

const network = new vpclink.Network("network", {
    sites,
    links: [{ sites: ["a", "b"], port: 1194, tunnelAddresses: ["10.254.0.1", "10.254.0.2"] }],
    sshAllowedCidrs,
});

export const siteOutputs: pulumi.Output<{ [site: string]: any }> = network.sites;
export const links = network.links;
export const tunnelCheck = network.tunnelCheck;
export const sshPublicKey: pulumi.Output<string> = network.sshPublicKey;
export const sshPrivateKey = network.sshPrivateKey; // a secret

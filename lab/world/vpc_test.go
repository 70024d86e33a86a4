package world

import (
	"testing"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

func TestVPCRange(t *testing.T) {
	w, _ := testWorld(t)
	for _, cidr := range []string{"10.0.0.0/8", "10.0.0.0/29", "10.0.0.1/16", "nonsense"} {
		_, _, err := w.Create("eu-west-1", awsmodel.VPC, "v", in("cidrBlock", cidr))
		wantAPIError(t, err, "InvalidVpc.Range", cidr)
	}
}

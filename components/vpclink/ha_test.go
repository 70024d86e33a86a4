package vpclink

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMonitorPolicy(t *testing.T) {
	for region, arn := range map[string]string{
		"eu-west-1":      "arn:aws:ec2:eu-west-1:*:route-table/rtb-0123456789abcdef0",
		"cn-north-1":     "arn:aws-cn:ec2:cn-north-1:*:route-table/rtb-0123456789abcdef0",
		"us-gov-west-1":  "arn:aws-us-gov:ec2:us-gov-west-1:*:route-table/rtb-0123456789abcdef0",
		"eusc-de-east-1": "arn:aws-eusc:ec2:eusc-de-east-1:*:route-table/rtb-0123456789abcdef0",
	} {
		doc, err := MonitorPolicy(region, "rtb-0123456789abcdef0")
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Version   string
			Statement []struct {
				Effect, Resource string
				Action           any
			}
		}
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			t.Fatal(err)
		}
		if p.Version != "2012-10-17" || len(p.Statement) != 2 || p.Statement[0].Resource != arn || p.Statement[1].Resource != "*" ||
			!strings.Contains(doc, `"Action":["ec2:ReplaceRoute","ec2:CreateRoute"]`) || !strings.Contains(doc, `"Action":"ec2:DescribeRouteTables"`) {
			t.Errorf("%s: %s", region, doc)
		}
	}
}

func TestSecondaryZone(t *testing.T) {
	first := zoneChoice{region: "eu-west-1", name: "eu-west-1a", offered: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}}
	if z, err := secondaryZone(first, ""); err != nil || z.name != "eu-west-1b" || z.pinned {
		t.Errorf("default: %+v %v, want eu-west-1b", z, err)
	}
	if z, err := secondaryZone(first, "eu-west-1c"); err != nil || z.name != "eu-west-1c" || !z.pinned {
		t.Errorf("pinned: %+v %v", z, err)
	}
	if _, err := secondaryZone(first, "eu-west-1d"); err == nil || !strings.Contains(err.Error(), "eu-west-1a, eu-west-1b, eu-west-1c") {
		t.Errorf("a zone without the type: %v", err)
	}
	one := zoneChoice{region: "r-1", name: "r-1a", offered: []string{"r-1a"}}
	if z, _ := secondaryZone(one, ""); z.name != "r-1a" {
		t.Errorf("one zone: %+v, want the same zone", z)
	}
}

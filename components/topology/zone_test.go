package topology

import (
	"strings"
	"testing"
)

// Regions are checked by shape only, never against a list: AWS adds
// regions (ap-east-2 is missing from the SDK's list).
func TestRegionNames(t *testing.T) {
	for _, tc := range []struct {
		region string
		ok     bool
	}{
		{"eu-west-1", true}, {"ap-east-2", true}, {"ap-southeast-7", true}, {"mx-central-1", true},
		{"us-gov-west-1", true}, {"cn-northwest-1", true}, {"eusc-de-east-1", true}, {"il-central-1", true},
		{"EU-WEST-1", false}, {"eu-west", false}, {"eu-west-1a", false}, {"us-east-1-bos-1a", false},
		{"", false}, {"eu_west_1", false}, {"e-west-1", false}, {"europe-west-1", false}, {" eu-west-1", false},
	} {
		t.Run(tc.region, func(t *testing.T) {
			c := twoSites()
			c.Sites[0].Region = tc.region
			err := Validate(Normalize(c))
			want := `config vpclink:sites[0].region = "` + tc.region + `": is not an AWS region such as eu-west-1`
			if tc.ok && err != nil || !tc.ok && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("region %q: %v", tc.region, err)
			}
		})
	}
}

// A site's availabilityZone must be a zone (or Local Zone) of the site's
// region, whatever the region: the message names the key, the value as
// written and what the region's zones look like.
func TestAvailabilityZones(t *testing.T) {
	const shapes = `whose zones are named eu-west-1 followed by a letter (eu-west-1a), or for a Local Zone eu-west-1-<location>-<number><letter> (such as eu-west-1-bos-1a)`
	for _, tc := range []struct {
		region, zone string
		// want is the whole message; "" accepts the zone.
		want string
	}{
		{"eu-west-1", "eu-west-1a", ""},
		{"eu-west-1", "eu-west-1c", ""},
		{"us-east-1", "us-east-1-bos-1a", ""},
		{"us-west-2", "us-west-2-lax-1b", ""},
		{"ap-east-2", "ap-east-2a", ""},
		{"us-gov-west-1", "us-gov-west-1a", ""},
		{"eusc-de-east-1", "eusc-de-east-1b", ""},
		{"eu-west-1", "us-west-2a",
			`config vpclink:sites[0].availabilityZone = "us-west-2a": is a zone of region "us-west-2", not of sites[0].region "eu-west-1", ` + shapes},
		{"eu-west-1", "eu-west-2a",
			`config vpclink:sites[0].availabilityZone = "eu-west-2a": is a zone of region "eu-west-2", not of sites[0].region "eu-west-1", ` + shapes},
		{"eu-west-1", "us-east-1-bos-1a",
			`config vpclink:sites[0].availabilityZone = "us-east-1-bos-1a": is a zone of region "us-east-1", not of sites[0].region "eu-west-1", ` + shapes},
		{"eu-west-1", "eu-west-1",
			`config vpclink:sites[0].availabilityZone = "eu-west-1": is not an availability zone name; the zones of sites[0].region "eu-west-1" are named eu-west-1 followed by a letter (eu-west-1a), or for a Local Zone eu-west-1-<location>-<number><letter> (such as eu-west-1-bos-1a)`},
		{"eu-west-1", "eu-west-1A",
			`config vpclink:sites[0].availabilityZone = "eu-west-1A": is not an availability zone name; the zones of sites[0].region "eu-west-1" are named`},
		{"eu-west-1", "euw1-az1",
			`config vpclink:sites[0].availabilityZone = "euw1-az1": is not an availability zone name;`},
		{"eu-west-1", "eu-west-1ab",
			`config vpclink:sites[0].availabilityZone = "eu-west-1ab": is not an availability zone name;`},
		{"eu-west-1", "eu-west-1-bos-a",
			`config vpclink:sites[0].availabilityZone = "eu-west-1-bos-a": is not an availability zone name;`},
		// With a wrong region only the region is blamed, unless the zone
		// has no zone's shape at all.
		{"eu-west", "eu-west-1a", ""},
		{"eu-west", "somewhere",
			`config vpclink:sites[0].availabilityZone = "somewhere": is not an availability zone name such as eu-west-1a or a Local Zone name such as us-east-1-bos-1a`},
	} {
		t.Run(tc.region+"/"+tc.zone, func(t *testing.T) {
			c := twoSites()
			c.Sites[0].Region = tc.region
			c.Sites[0].AvailabilityZone = tc.zone
			var got []string
			for _, fe := range fieldErrors(Validate(Normalize(c))) {
				if fe.Key == "vpclink:sites[0].availabilityZone" {
					got = append(got, fe.Error())
				}
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("refused: %q", got)
			case tc.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tc.want)):
				t.Errorf("got %q\nwant %s", got, tc.want)
			}
		})
	}
}

package world

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/vpclink/pulumi-vpc-openvpn/internal/awsmodel"
)

// The AWS API as the lab emulates it, one file per resource kind (vpc.go,
// subnet.go, ...): each kind checks what AWS checks, with AWS's error codes
// and texts, changes the model and asks the system to follow. Adding a kind
// is one file and one line in kinds.

// kind is one AWS resource kind.
type kind interface {
	// ids lists the world's objects of the kind.
	ids(m *Model) []string
	// create adds an object with r's id, name and region.
	create(o *op, r Regional, in resource.PropertyMap) error
	// update changes an existing object in place (inputs Diff allows).
	update(o *op, id string, olds, news resource.PropertyMap) error
	// delete removes an existing object, subject to AWS's dependency checks.
	delete(o *op, id string) error
}

// kinds dispatches by type token.
var kinds = map[string]kind{
	awsmodel.VPC:                   vpcKind{},
	awsmodel.InternetGateway:       igwKind{},
	awsmodel.Subnet:                subnetKind{},
	awsmodel.RouteTable:            tableKind{},
	awsmodel.Route:                 routeKind{},
	awsmodel.RouteTableAssociation: assocKind{},
	awsmodel.SecurityGroup:         groupKind{},
	awsmodel.IngressRule:           ruleKind{egress: false},
	awsmodel.EgressRule:            ruleKind{egress: true},
	awsmodel.KeyPair:               keyKind{},
	awsmodel.Instance:              instanceKind{},
	awsmodel.EIP:                   eipKind{},
	awsmodel.Role:                  roleKind{},
	awsmodel.RolePolicy:            rolePolicyKind{},
	awsmodel.InstanceProfile:       profileKind{},
}

// op is one API call in progress, under the world's lock.
type op struct {
	w   *World
	m   *Model
	sys system
	// changed are the inputs an update changes.
	changed []string
	// publicIP is the Elastic IP's address, for the outputs.
	publicIP string
	// boot is an instance to start once the lock is released ("" none),
	// with its user data; restart one to stop and start.
	boot, userData, restart string
	// removed is a host to delete once the lock is released.
	removed *Host
	// id, when a kind sets it, is the object's id instead of a generated
	// one (IAM: the name).
	id string
}

func notEmulated(token string) error {
	return fmt.Errorf("vpclink lab: resource type %s is not emulated", token)
}

// apiError is an AWS API error as the provider reports it.
func apiError(code, format string, args ...any) error {
	return awsmodel.APIError(code, format, args...)
}

func notFound(kind, id string) error {
	code := map[string]string{
		"vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound", "routeTable": "InvalidRouteTableID.NotFound",
		"securityGroup": "InvalidGroup.NotFound", "instance": "InvalidInstanceID.NotFound",
		"internetGateway": "InvalidInternetGatewayID.NotFound", "networkInterface": "InvalidNetworkInterfaceID.NotFound",
		"keyPair": "InvalidKeyPair.NotFound", "allocation": "InvalidAllocationID.NotFound",
	}[kind]
	return apiError(code, "The %s ID '%s' does not exist", kind, id)
}

func text(in resource.PropertyMap, k string) string {
	return awsmodel.Text(in[resource.PropertyKey(k)])
}

func list(in resource.PropertyMap, k string) []string {
	var out []string
	if v := awsmodel.Unwrap(in[resource.PropertyKey(k)]); v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, awsmodel.Text(e))
		}
	}
	return out
}

// Create creates one AWS object and returns its id and outputs.
func (w *World) Create(region, token, name string, in resource.PropertyMap) (string, resource.PropertyMap, error) {
	k := kinds[token]
	if k == nil {
		return "", nil, notEmulated(token)
	}
	id := NewID(awsmodel.IDPrefix(token))
	o := &op{w: w, sys: w.system()}
	err := w.Update(func(m *Model) error {
		o.m = m
		return k.create(o, Regional{ID: id, Region: region, Name: name}, in)
	})
	if err != nil {
		if o.boot != "" {
			w.Delete(region, token, id)
		}
		return "", nil, err
	}
	if o.id != "" {
		id = o.id
	}
	if o.boot != "" {
		if err := w.bootInstance(o.boot, o.userData); err != nil {
			w.Delete(region, token, id)
			return "", nil, err
		}
	}
	return id, awsmodel.Outputs(token, id, name, in, region, o.publicIP), nil
}

// UpdateObject changes an AWS object in place; olds and news are its inputs.
func (w *World) UpdateObject(region, token, id, name string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	k := kinds[token]
	if k == nil {
		return nil, notEmulated(token)
	}
	changed, replaces := awsmodel.Diff(token, olds, news)
	if len(replaces) > 0 {
		return nil, fmt.Errorf("vpclink lab: %s %s: %v cannot change in place", token, id, replaces)
	}
	o := &op{w: w, sys: w.system(), changed: changed}
	err := w.Update(func(m *Model) error {
		o.m = m
		if err := k.update(o, id, olds, news); err != nil {
			return err
		}
		return o.sys.apply(m)
	})
	if err != nil {
		return nil, err
	}
	if o.restart != "" {
		if err := w.restartInstance(o.restart); err != nil {
			return nil, err
		}
	}
	return awsmodel.Outputs(token, id, name, news, region, o.publicIP), nil
}

// Delete deletes an AWS object; deleting one that is gone succeeds, as the
// provider treats NotFound on delete.
func (w *World) Delete(region, token, id string) error {
	k := kinds[token]
	if k == nil {
		return notEmulated(token)
	}
	o := &op{w: w, sys: w.system()}
	err := w.Update(func(m *Model) error {
		o.m = m
		if !m.Has(token, id) {
			return nil
		}
		if err := k.delete(o, id); err != nil {
			return err
		}
		return o.sys.apply(m)
	})
	if err != nil || o.removed == nil {
		return err
	}
	return o.sys.remove(o.removed)
}

// ObjectExists reports whether an AWS object still exists (for refresh).
func (w *World) ObjectExists(token, id string) (bool, error) {
	m, err := w.Load()
	if err != nil {
		return false, err
	}
	return m.Has(token, id), nil
}

// dependency is AWS's refusal to delete an object others depend on.
func dependency(kind, id string) error {
	return apiError("DependencyViolation", "The %s '%s' has dependencies and cannot be deleted.", kind, id)
}

// inPlace is the update of a kind whose in-place changes (tags, DNS
// attributes) only the engine records.
type inPlace struct{}

func (inPlace) update(*op, string, resource.PropertyMap, resource.PropertyMap) error { return nil }

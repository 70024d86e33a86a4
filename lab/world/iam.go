package world

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// IAM (issue 16): roles, their inline policies and instance profiles. IAM is
// global: the objects are kept by name, unique in the account whatever
// region the provider that created them had (Regional.Region records it).
// The lab's EC2 endpoint (endpoints.go) hands an instance the credentials
// of its profile's role and authorises its calls with the role's policies.

// Role is an IAM role; its id is its name.
type Role struct {
	Regional
	AssumeRolePolicy string            `json:"assumeRolePolicy"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// RolePolicy is an inline policy of a role; its id is role:name.
type RolePolicy struct {
	Regional
	Role   string `json:"role"`
	Policy string `json:"policy"`
}

// Profile is an instance profile; its id is its name. Role is "" when none.
type Profile struct {
	Regional
	Role string `json:"role"`
}

// iamName is IAM's rule for role, policy and profile names.
var iamName = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)

// iamObjectName is the name an IAM object gets: its name input, else its
// namePrefix and a unique suffix (26 digits, as the provider's
// id.PrefixedUniqueId), else the resource name and a random suffix (the
// plugin's Check fills the name in before).
func iamObjectName(in resource.PropertyMap, resourceName string) string {
	if n := text(in, "name"); n != "" {
		return n
	}
	b := make([]byte, 13)
	rand.Read(b)
	var digits strings.Builder
	for _, x := range b {
		fmt.Fprintf(&digits, "%02d", int(x)%100)
	}
	if p := text(in, "namePrefix"); p != "" {
		return p + digits.String()
	}
	return resourceName + "-" + digits.String()[:7]
}

func iamRefuse(code, format string, args ...any) error { return apiError(code, format, args...) }

// checkPolicyDocument is IAM's MalformedPolicyDocument check: JSON with a
// Version and at least one Statement.
func checkPolicyDocument(doc string) error {
	var p struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return iamRefuse("MalformedPolicyDocument", "This policy contains invalid Json")
	}
	if len(p.Statement) == 0 || string(p.Statement) == "null" || string(p.Statement) == "[]" {
		return iamRefuse("MalformedPolicyDocument", "Syntax errors in policy.")
	}
	if _, err := parsePolicy(doc); err != nil {
		return iamRefuse("MalformedPolicyDocument", "Syntax errors in policy.")
	}
	return nil
}

type roleKind struct{}

func (roleKind) ids(m *Model) []string { return keys(m.Roles) }

func (roleKind) create(o *op, r Regional, in resource.PropertyMap) error {
	name := iamObjectName(in, r.Name)
	if !iamName.MatchString(name) || len(name) > 64 {
		return iamRefuse("ValidationError", "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	if o.m.Roles[name] != nil {
		return iamRefuse("EntityAlreadyExists", "Role with name %s already exists.", name)
	}
	doc := text(in, "assumeRolePolicy")
	if doc == "" {
		return iamRefuse("ValidationError", "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null")
	}
	if err := checkPolicyDocument(doc); err != nil {
		return err
	}
	r.ID = name
	o.id = name
	o.m.Roles[name] = &Role{Regional: r, AssumeRolePolicy: doc, Tags: tags(in)}
	return nil
}

func (roleKind) update(o *op, id string, _, news resource.PropertyMap) error {
	role := o.m.Roles[id]
	if role == nil {
		return iamRefuse("NoSuchEntity", "The role with name %s cannot be found.", id)
	}
	if err := checkPolicyDocument(text(news, "assumeRolePolicy")); err != nil {
		return err
	}
	role.AssumeRolePolicy, role.Tags = text(news, "assumeRolePolicy"), tags(news)
	return nil
}

func (roleKind) delete(o *op, id string) error {
	for _, p := range o.m.RolePolicies {
		if p.Role == id {
			return iamRefuse("DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
	}
	for _, p := range o.m.Profiles {
		if p.Role == id {
			return iamRefuse("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
		}
	}
	delete(o.m.Roles, id)
	return nil
}

type rolePolicyKind struct{}

func (rolePolicyKind) ids(m *Model) []string { return keys(m.RolePolicies) }

func (rolePolicyKind) create(o *op, r Regional, in resource.PropertyMap) error {
	role := text(in, "role")
	if o.m.Roles[role] == nil {
		return iamRefuse("NoSuchEntity", "The role with name %s cannot be found.", role)
	}
	name := iamObjectName(in, r.Name)
	if !iamName.MatchString(name) {
		return iamRefuse("ValidationError", "1 validation error detected: Value '%s' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	if err := checkPolicyDocument(text(in, "policy")); err != nil {
		return err
	}
	// PutRolePolicy overwrites a policy of the same name; the provider
	// creates under the id role:name.
	r.ID = role + ":" + name
	o.id = r.ID
	o.m.RolePolicies[r.ID] = &RolePolicy{Regional: r, Role: role, Policy: text(in, "policy")}
	return nil
}

func (rolePolicyKind) update(o *op, id string, _, news resource.PropertyMap) error {
	p := o.m.RolePolicies[id]
	if p == nil {
		return iamRefuse("NoSuchEntity", "The role policy with name %s cannot be found.", id)
	}
	if err := checkPolicyDocument(text(news, "policy")); err != nil {
		return err
	}
	p.Policy = text(news, "policy")
	return nil
}

func (rolePolicyKind) delete(o *op, id string) error {
	delete(o.m.RolePolicies, id)
	return nil
}

type profileKind struct{}

func (profileKind) ids(m *Model) []string { return keys(m.Profiles) }

func (profileKind) create(o *op, r Regional, in resource.PropertyMap) error {
	name := iamObjectName(in, r.Name)
	if !iamName.MatchString(name) {
		return iamRefuse("ValidationError", "1 validation error detected: Value '%s' at 'instanceProfileName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	if o.m.Profiles[name] != nil {
		return iamRefuse("EntityAlreadyExists", "Instance Profile %s already exists.", name)
	}
	role := text(in, "role")
	if role != "" && o.m.Roles[role] == nil {
		return iamRefuse("NoSuchEntity", "The role with name %s cannot be found.", role)
	}
	r.ID = name
	o.id = name
	o.m.Profiles[name] = &Profile{Regional: r, Role: role}
	return nil
}

func (profileKind) update(o *op, id string, _, news resource.PropertyMap) error {
	p := o.m.Profiles[id]
	if p == nil {
		return iamRefuse("NoSuchEntity", "Instance Profile %s cannot be found.", id)
	}
	role := text(news, "role")
	if role != "" && o.m.Roles[role] == nil {
		return iamRefuse("NoSuchEntity", "The role with name %s cannot be found.", role)
	}
	p.Role = role
	return nil
}

func (profileKind) delete(o *op, id string) error {
	// An instance still associated with a deleted profile gets no
	// credentials any more (IMDS answers 404), as on AWS.
	delete(o.m.Profiles, id)
	return nil
}

// roleOfProfile is the role whose credentials an instance with the profile
// gets ("" when none).
func (m *Model) roleOfProfile(profile string) string {
	if p := m.Profiles[profile]; p != nil {
		return p.Role
	}
	return ""
}

// policiesOf are the inline policy documents of a role, by policy id.
func (m *Model) policiesOf(role string) []string {
	var ids []string
	for id, p := range m.RolePolicies {
		if p.Role == role {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []string
	for _, id := range ids {
		out = append(out, m.RolePolicies[id].Policy)
	}
	return out
}

package world

import (
	"encoding/json"
	"fmt"
	"strings"
)

// IAM policy evaluation, the part the lab's EC2 endpoint needs: identity
// policies only (a role's inline policies), Allow and Deny statements with
// Action/NotAction and Resource/NotResource patterns (* and ? wildcards;
// actions case-insensitive), no Condition (a statement with one is
// refused when the policy is put). An explicit Deny wins, then an Allow;
// otherwise the implicit deny.

type statement struct {
	Effect                                   string
	Action, NotAction, Resource, NotResource []string
}

// stringOrList is a policy element that is a string or a list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// parsePolicy reads a policy document's statements.
func parsePolicy(doc string) ([]statement, error) {
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	type raw struct {
		Sid                                      string
		Effect                                   string
		Principal                                json.RawMessage
		Action, NotAction, Resource, NotResource stringOrList
		Condition                                json.RawMessage
	}
	var list []raw
	if err := json.Unmarshal(p.Statement, &list); err != nil {
		var one raw
		if err := json.Unmarshal(p.Statement, &one); err != nil {
			return nil, err
		}
		list = []raw{one}
	}
	var out []statement
	for _, r := range list {
		if r.Effect != "Allow" && r.Effect != "Deny" {
			return nil, fmt.Errorf("statement effect %q", r.Effect)
		}
		if len(r.Condition) > 0 && string(r.Condition) != "null" {
			return nil, fmt.Errorf("conditions are not emulated")
		}
		out = append(out, statement{Effect: r.Effect, Action: r.Action, NotAction: r.NotAction, Resource: r.Resource, NotResource: r.NotResource})
	}
	return out, nil
}

// wildcard matches s against a pattern with * (any run) and ? (one
// character).
func wildcard(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && wildcard(pattern[1:], s[1:])
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

func (st statement) applies(action, resource string) bool {
	if len(st.Action) > 0 && !anyMatch(st.Action, action, true) {
		return false
	}
	if len(st.NotAction) > 0 && anyMatch(st.NotAction, action, true) {
		return false
	}
	if len(st.Action) == 0 && len(st.NotAction) == 0 {
		return false
	}
	if len(st.Resource) > 0 && !anyMatch(st.Resource, resource, false) {
		return false
	}
	if len(st.NotResource) > 0 && anyMatch(st.NotResource, resource, false) {
		return false
	}
	return len(st.Resource) > 0 || len(st.NotResource) > 0
}

// allowed evaluates policy documents for an action ("ec2:ReplaceRoute") on
// a resource (an ARN, or "*" for actions without resource-level
// permissions, which only a statement with Resource "*" covers).
func allowed(docs []string, action, resource string) bool {
	allow := false
	for _, d := range docs {
		sts, err := parsePolicy(d)
		if err != nil {
			continue
		}
		for _, st := range sts {
			if !st.applies(action, resource) {
				continue
			}
			if st.Effect == "Deny" {
				return false
			}
			allow = true
		}
	}
	return allow
}

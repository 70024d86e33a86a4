package world

import (
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// keyKind: a key pair, named per region; instances get its public key.
type keyKind struct{ inPlace }

func (keyKind) ids(m *Model) []string { return keys(m.Keys) }

func (keyKind) create(o *op, r Regional, in resource.PropertyMap) error {
	keyName := text(in, "keyName")
	for _, k := range o.m.Keys {
		if k.KeyName == keyName && k.Region == r.Region {
			return apiError("InvalidKeyPair.Duplicate", "The keypair already exists")
		}
	}
	o.m.Keys[r.ID] = &Key{Regional: r, KeyName: keyName, PublicKey: text(in, "publicKey")}
	return nil
}

func (keyKind) delete(o *op, id string) error {
	delete(o.m.Keys, id)
	return nil
}

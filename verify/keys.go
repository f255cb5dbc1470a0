package verify

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
)

// The signing keys of an archive form a chain: archive.created (leaf 0)
// records the first, and each key.rotated event names the next, with a
// note the key then in force signed over it. The checkpoint that commits
// a key.rotated event is the old key's last; every later one is the new
// key's. So the journal itself says which key must have signed each
// checkpoint, and a configuration (or a whole key) replaced behind the
// archive's back is caught without the auditor bringing the key: leaf 0
// disagrees with it.

// keyEra is one key of the chain.
type keyEra struct {
	key string
	v   *journal.Verifier
	at  uint64 // journal index of the event that introduced it
}

// rotation is a key.rotated event as the prescan read it.
type rotation struct {
	index uint64
	p     archive.KeyRotatedEvent
}

var rotationMarker = []byte(`"type":"` + archive.EventKeyRotated + `"`)

// prescan reads the facts the main pass needs before it starts: leaf 0,
// the key rotations (to verify checkpoints as they come) and the sealed
// packs (to read records without trusting the index's packs table).
func (c *checker) prescan() error {
	err := c.st.Leaves(c.ctx, 0, c.journalSize, func(idx uint64, _, leaf []byte) error {
		if p, ok := repo.SealedPack(idx, leaf); ok {
			c.sealed = append(c.sealed, p)
			return nil
		}
		if idx != 0 && !bytes.Contains(leaf, rotationMarker) {
			return nil
		}
		// Leaves that do not parse are reported by the main pass; what
		// they say still counts, as it does for the tree.
		ev, err := journal.DecodeLeaf(idx, leaf)
		if err != nil {
			return nil
		}
		switch {
		case idx == 0 && ev.Type == archive.EventArchiveCreated:
			var p archive.ArchiveCreated
			if ev.DecodePayload(&p) == nil {
				c.created = &p
			}
		case ev.Type == archive.EventKeyRotated:
			var p archive.KeyRotatedEvent
			if ev.DecodePayload(&p) == nil {
				c.rotations = append(c.rotations, rotation{index: idx, p: p})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.years = c.r.Config.RetentionYears
	if c.created != nil && c.created.RetentionYears > 0 {
		c.years = c.created.RetentionYears
	}
	return nil
}

// setupKeys builds the chain and compares the keys given to verify with
// it: the configured one must be the key in force now, the supplied one
// (an auditor's copy) must be one of the chain.
func (c *checker) setupKeys(supplied *journal.Verifier) {
	origin := c.r.Config.Origin
	configured, configErr := journal.NewVerifier(origin, c.r.Config.PublicKey)
	var root keyEra
	switch {
	case c.created != nil:
		v, err := journal.NewVerifier(origin, c.created.PublicKey)
		if err != nil {
			v = journal.InvalidVerifier(fmt.Errorf("the key archive.created records: %w", err))
		}
		root = keyEra{key: strings.TrimSpace(c.created.PublicKey), v: v}
	case supplied != nil:
		root = keyEra{key: strings.TrimSpace(c.opts.PublicKey), v: supplied}
	case configErr == nil:
		root = keyEra{key: strings.TrimSpace(c.r.Config.PublicKey), v: configured}
	default:
		root = keyEra{v: journal.InvalidVerifier(configErr)}
	}
	c.keys = []keyEra{root}
	for _, rot := range c.rotations {
		cur := c.keys[len(c.keys)-1]
		obj := journalObj(rot.index)
		if strings.TrimSpace(rot.p.PreviousKey) != cur.key {
			c.fault(KeyRotation, obj, "names %q as the key it replaces; the key in force is %q", rot.p.PreviousKey, cur.key)
			continue
		}
		text, err := cur.v.OpenStatement([]byte(rot.p.Note))
		if err != nil {
			c.fault(KeyRotation, obj, "its note is not signed by the key in force (%s): %v", cur.key, err)
			continue
		}
		if want := journal.RotationStatement(origin, cur.key, rot.p.PublicKey); text != want {
			c.fault(KeyRotation, obj, "its note vouches for %q, not for the key it names", text)
			continue
		}
		v, err := journal.NewVerifier(origin, rot.p.PublicKey)
		if err != nil {
			c.fault(KeyRotation, obj, "the new key does not parse: %v", err)
			continue
		}
		c.keys = append(c.keys, keyEra{key: strings.TrimSpace(rot.p.PublicKey), v: v, at: rot.index})
	}
	c.rep.Stats.Keys = len(c.keys)
	c.v = c.keys[len(c.keys)-1].v
	current := c.keys[len(c.keys)-1].key
	switch {
	case configErr != nil:
		c.fault(ConfigPublicKeyChange, repo.ConfigFile, "the configured public key does not parse (%v); the key in force, by the journal, is %s", configErr, current)
	case current != "" && strings.TrimSpace(c.r.Config.PublicKey) != current:
		c.fault(ConfigPublicKeyChange, repo.ConfigFile, "the configured public key %s is not the key in force by the journal (%s)", c.r.Config.PublicKey, current)
	}
	if supplied == nil {
		return
	}
	want := strings.TrimSpace(c.opts.PublicKey)
	for _, k := range c.keys {
		if k.key == want {
			return
		}
	}
	// The journal's chain is not the auditor's: trust only the key they
	// hold, so every checkpoint it did not sign is reported.
	c.fault(KeyMismatch, "public-key", "the key supplied is not one the journal records (archive.created and key.rotated name %s)", c.chainKeys())
	c.keys = []keyEra{{key: want, v: supplied}}
	c.v = supplied
	c.rotations = nil
}

func (c *checker) chainKeys() string {
	var ks []string
	for _, k := range c.keys {
		ks = append(ks, k.key)
	}
	return strings.Join(ks, ", ")
}

// setEras decides, from the stored checkpoint sizes, the last checkpoint
// of each key: the first checkpoint at or after a rotation event commits
// it, and is the old key's last.
func (c *checker) setEras(sizes []uint64) {
	c.eraEnd = make([]uint64, len(c.keys))
	for i := range c.keys {
		c.eraEnd[i] = ^uint64(0)
	}
	for i := 1; i < len(c.keys); i++ {
		at := c.keys[i].at
		j := sort.Search(len(sizes), func(j int) bool { return sizes[j] > at })
		if j < len(sizes) {
			c.eraEnd[i-1] = sizes[j]
		} else {
			c.eraEnd[i-1] = at + 1
		}
	}
}

// openCheckpoint verifies a checkpoint of the given size with the key in
// force for it.
func (c *checker) openCheckpoint(size uint64, note []byte) (*journal.Checkpoint, error) {
	i := sort.Search(len(c.eraEnd), func(i int) bool { return size <= c.eraEnd[i] })
	if i == len(c.keys) {
		i = len(c.keys) - 1
	}
	cp, err := c.keys[i].v.Open(note)
	if err != nil && len(c.keys) > 1 {
		return nil, fmt.Errorf("%w (the key in force for it is %s)", err, c.keys[i].key)
	}
	return cp, err
}

// noteSize reads the tree size of a checkpoint note without verifying it
// (to choose the key that must have signed it): the second line.
func noteSize(note []byte) uint64 {
	lines := bytes.SplitN(note, []byte("\n"), 3)
	if len(lines) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(string(lines[1]), 10, 64)
	return n
}

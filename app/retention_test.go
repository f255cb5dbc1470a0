package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/auth"
	"github.com/wxarchive/wxarchive/blob"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/internal/archivetest"
	"github.com/wxarchive/wxarchive/journal"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/retention"
	"github.com/wxarchive/wxarchive/store"
	"github.com/wxarchive/wxarchive/verify"
)

const rulesV1 = `retention: firm
rules:
  - name: everything
    period: {years: 7}
`

const rulesOverride = `retention: firm
rules:
  - name: everything
    period: {years: 7}
  - name: stickers
    match: {kinds: [emotion]}
    period: {days: 400}
    override: {reason: stickers carry no business content (memo 2026-04)}
`

// TestRetentionApplyVersions: versions are numbered, journaled with their
// author and file; the same bytes again write nothing; an override is
// journaled with its reason; show gives any version and the history.
func TestRetentionApplyVersions(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u := app.New(app.FromRepo(r))
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})

	if _, err := u.Retention(as, 0); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("show before any apply: %v, want ErrNotFound", err)
	}
	res, err := u.ApplyRetention(as, "v1.yaml", []byte(rulesV1))
	if err != nil || res.Version != 1 || !res.Changed || len(res.Overrides) != 0 {
		t.Fatalf("apply v1: %+v, %v", res, err)
	}
	ev := lastEvent(t, r.Store)
	var p archive.RetentionEvent
	if ev.Type != archive.EventRetentionApplied || ev.Actor != "cli:carol" || ev.DecodePayload(&p) != nil || p.Version != 1 || p.Source != rulesV1 ||
		p.SHA256 != archive.Hash([]byte(rulesV1)) || strings.Join(ev.Subject, ",") != "retention:firm" {
		t.Fatalf("journaled %+v / %+v", ev, p)
	}
	size := lastEvent(t, r.Store).Index
	if res, err := u.ApplyRetention(as, "v1.yaml", []byte(rulesV1)); err != nil || res.Changed || res.Version != 1 {
		t.Fatalf("apply the same bytes: %+v, %v", res, err)
	}
	if lastEvent(t, r.Store).Index != size {
		t.Fatal("an unchanged apply journaled something")
	}
	bob := app.WithPrincipal(ctx, app.Principal{Actor: "api:bob", User: "bob", Via: "api",
		Identity: &auth.Identity{User: "bob", Roles: []auth.Role{auth.Principal}, Method: auth.MethodPassword}})
	res, err = u.ApplyRetention(bob, "v2.yaml", []byte(rulesOverride))
	if err != nil || res.Version != 2 || len(res.Overrides) != 1 || res.Overrides[0].Rule != "stickers" || res.Overrides[0].Period != "400d" {
		t.Fatalf("apply v2: %+v, %v", res, err)
	}
	if err := lastEvent(t, r.Store).DecodePayload(&p); err != nil || len(p.Overrides) != 1 || !strings.Contains(p.Overrides[0].Reason, "memo 2026-04") {
		t.Fatalf("the override is not journaled with its reason: %+v, %v", p, err)
	}

	d, err := u.Retention(as, 0)
	if err != nil || d.Version != 2 || d.Latest != 2 || d.AppliedBy != "api:bob" || d.Source != rulesOverride || len(d.Versions) != 2 ||
		d.Versions[0].AppliedBy != "cli:carol" || d.Set == nil || len(d.Set.Rules) != 2 || d.Set.Rules[1].Override == "" {
		t.Fatalf("show latest: %+v, %v", d, err)
	}
	if d, err := u.Retention(as, 1); err != nil || d.Version != 1 || d.Source != rulesV1 || d.Latest != 2 {
		t.Fatalf("show 1: %+v, %v", d, err)
	}
	if _, err := u.Retention(as, 3); !errors.Is(err, app.ErrNotFound) {
		t.Fatalf("show 3: %v", err)
	}
	var inv *app.InvalidError
	if _, err := u.Retention(as, -1); !errors.As(err, &inv) || inv.Field != "version" {
		t.Fatalf("show -1: %v", err)
	}
}

// TestRetentionApplyRefused: a file that does not validate is refused with
// every problem and its line, and nothing is journaled; only an
// administrator or a supervising principal may apply; without a writer,
// nothing.
func TestRetentionApplyRefused(t *testing.T) {
	ctx := context.Background()
	r := archivetest.New(t)
	u := app.New(app.FromRepo(r))
	before := lastEvent(t, r.Store).Index
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	_, err := u.ApplyRetention(as, "bad.yaml", []byte("retention: firm\nrules:\n  - name: a\n    period: {weeks: 3}\n  - name: a\n    period: {years: 1}\n    override: {}\n"))
	var re *app.RetentionError
	if !errors.As(err, &re) || len(re.Problems) != 4 || re.Problems[0].Line != 4 || re.Problems[1].Line != 4 || re.Problems[2].Line != 5 || re.Problems[3].Line != 7 {
		t.Fatalf("bad file: %v (%#v)", err, re)
	}
	for _, role := range []auth.Role{auth.Reviewer, auth.Auditor, auth.Regulator, auth.Ingest} {
		who := app.WithPrincipal(ctx, app.Principal{Actor: "api:x", User: "x", Via: "api",
			Identity: &auth.Identity{User: "x", Roles: []auth.Role{role}, Method: auth.MethodToken}})
		var fe *auth.ForbiddenError
		if _, err := u.ApplyRetention(who, "v1.yaml", []byte(rulesV1)); !errors.As(err, &fe) || fe.Need != auth.PermRetention {
			t.Errorf("%s applied a rule set: %v", role, err)
		}
	}
	admin := app.WithPrincipal(ctx, app.Principal{Actor: "api:root", User: "root", Via: "api",
		Identity: &auth.Identity{User: "root", Roles: []auth.Role{auth.Admin}, Method: auth.MethodPassword}})
	if lastEvent(t, r.Store).Index != before {
		t.Fatal("a refused apply journaled something")
	}
	if res, err := u.ApplyRetention(admin, "v1.yaml", []byte(rulesV1)); err != nil || res.Version != 1 {
		t.Fatalf("admin: %+v, %v", res, err)
	}
	ro := app.New(app.Deps{Store: r.Store, Config: r.Config})
	if _, err := ro.ApplyRetention(as, "v2.yaml", []byte(rulesOverride)); !errors.Is(err, app.ErrReadOnly) {
		t.Fatalf("read-only: %v", err)
	}
}

func TestRetentionCheck(t *testing.T) {
	u := app.New(app.Deps{})
	v, err := u.CheckRetention("example.yaml", retention.Example())
	if err != nil || v.Name != "example-global-firm" || len(v.Rules) != 4 {
		t.Fatalf("example: %+v, %v", v, err)
	}
	for _, r := range v.Rules {
		if r.Name == "hk-sfc" && (r.Period != "2y" || !strings.HasPrefix(r.Effective, "3y")) {
			t.Errorf("hk-sfc shown as %+v, want 2y effective 3y", r)
		}
	}
	var re *app.RetentionError
	if _, err := u.CheckRetention("x.yaml", []byte("retention: x\n")); !errors.As(err, &re) {
		t.Fatalf("no rules: %v", err)
	}
}

const rulesIngest = `retention: firm
jurisdictions:
  hk: {sources: [test:hk]}
rules:
  - name: hk-sfc
    match: {jurisdictions: [hk]}
    period: {years: 2}
  - name: files
    match: {kinds: [file]}
    period: {years: 8}
  - name: stickers
    match: {kinds: [emotion]}
    period: {days: 400}
    override: {reason: no business content}
`

// TestRetentionAtIngest: before a rule set, retain-until is retention_years
// from the capture day (unchanged); after it, each message's retain-until
// and rule come from the rules (journaled and indexed), attachments are
// locked with their own message's retain-until, a quarantined input gets
// the longest any rule gives, and verify is clean.
func TestRetentionAtIngest(t *testing.T) {
	ctx := context.Background()
	// The clock runs ahead of init's leaves (a leaf is never dated
	// before the one it follows).
	now := time.Now().UTC().Add(time.Hour)
	r, _ := archivetest.NewWith(t, repo.InitOptions{RetentionYears: 6}, repo.OpenOptions{Exclusive: true, Now: func() time.Time { return now }})
	u := app.New(app.FromRepo(r))
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	sent := now.AddDate(0, 0, -5)
	day := func(t time.Time, years, days int) time.Time {
		return retention.Until(t, retention.Period{Years: years, Days: days})
	}
	item := func(id, src string, kind archive.Kind, blob archive.BlobID) ingest.Item {
		m, raw := testMessage(id, "hello "+id)
		m.Source, m.Kind, m.SentAt = src, kind, archive.At(sent)
		if !blob.IsZero() {
			m.Attachments = []archive.Attachment{{Role: "file", Blob: blob, Size: 3, Status: archive.AttachmentFetched}}
		}
		return ingest.Item{Source: src, Raw: raw, Message: m}
	}
	res, err := r.Engine.Archive(ctx, "test", []ingest.Item{item("before", "test:hk", archive.KindText, archive.BlobID{})})
	if err != nil {
		t.Fatal(err)
	}
	row, err := r.Store.Message(ctx, res[0].Serial)
	if err != nil || !row.RetainUntil.Time.Equal(day(now, 6, 0)) || row.RetentionRule != "" || row.RetentionVersion != 0 {
		t.Fatalf("before any rule set: %+v, %v (want 6 years from the capture day, no rule)", row, err)
	}
	if _, err := u.ApplyRetention(as, "rules.yaml", []byte(rulesIngest)); err != nil {
		t.Fatal(err)
	}
	a1, _ := r.Blobs.Put(ctx, []byte("one"), blob.PutOptions{})
	a2, _ := r.Blobs.Put(ctx, []byte("two"), blob.PutOptions{})
	res, err = r.Engine.Archive(ctx, "test", []ingest.Item{
		item("hk", "test:hk", archive.KindText, archive.BlobID{}),
		item("hkfile", "test:hk", archive.KindFile, a1),
		item("sticker", "test:us", archive.KindEmotion, a2),
		item("other", "test:us", archive.KindText, archive.BlobID{}),
		{Source: "test:us", Raw: []byte("garbage"), Reject: &ingest.Rejection{Reason: "not JSON"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		rule  string
		until time.Time
	}{
		{"hk-sfc", day(sent, 3, 0)},     // 2 y raised to the floor, from the send time
		{"files", day(sent, 8, 0)},      // longest wins
		{"stickers", day(sent, 0, 400)}, // the override stands
		{"default", day(sent, 6, 0)},    // retention_years from the send time
	}
	for i, w := range want {
		row, err := r.Store.Message(ctx, res[i].Serial)
		if err != nil || row.RetentionRule != w.rule || row.RetentionVersion != 1 || !row.RetainUntil.Time.Equal(w.until) {
			t.Errorf("message %d: rule %q v%d until %s, %v; want %s until %s", i, row.RetentionRule, row.RetentionVersion, row.RetainUntil, err, w.rule, w.until.Format(time.DateOnly))
		}
	}
	for id, w := range map[archive.BlobID]time.Time{a1: want[1].until, a2: want[2].until} {
		if info, err := r.Blobs.Stat(ctx, id); err != nil || !info.RetainUntil.Equal(w) {
			t.Errorf("attachment %s retained until %v, %v; want its message's %s", id.Short(), info.RetainUntil, err, w)
		}
	}
	var rej archive.RejectEvent
	if err := r.Store.Leaves(ctx, res[4].JournalIndex, res[4].JournalIndex+1, func(i uint64, _, leaf []byte) error {
		ev, err := journal.ParseLeaf(i, leaf)
		if err != nil {
			return err
		}
		return ev.DecodePayload(&rej)
	}); err != nil || !rej.RetainUntil.Time.Equal(day(now, 8, 0)) {
		t.Errorf("quarantined input retained until %s, %v; want the longest rule (8 y) from its capture", rej.RetainUntil, err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// TestRetentionRecompute: applying a rule set that keeps some archived
// messages longer extends them — the index row, the pack holding their
// records and their attachments, journaled as retention.extended — while
// one that would keep them less is reported with examples and not
// applied; reindex (verify's rebuild) agrees, and a second recompute has
// nothing to do.
func TestRetentionRecompute(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Add(time.Hour)
	r, dir := archivetest.NewWith(t, repo.InitOptions{RetentionYears: 6}, repo.OpenOptions{Exclusive: true, Now: func() time.Time { return now }})
	u := app.New(app.FromRepo(r))
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	day := func(t time.Time, years, days int) time.Time {
		return retention.Until(t, retention.Period{Years: years, Days: days})
	}
	att, _ := r.Blobs.Put(ctx, []byte("contract.pdf bytes"), blob.PutOptions{})
	var items []ingest.Item
	for i, src := range []string{"test:hk", "test:hk", "test:us"} {
		m, raw := testMessage(fmt.Sprintf("m%d", i), "hello")
		m.Source, m.SentAt = src, archive.At(now)
		if i == 1 {
			m.Attachments = []archive.Attachment{{Role: "file", Blob: att, Size: 18, Status: archive.AttachmentFetched}}
		}
		items = append(items, ingest.Item{Source: src, Raw: raw, Message: m})
	}
	res, err := r.Engine.Archive(ctx, "test", items)
	if err != nil {
		t.Fatal(err)
	}
	six := day(now, 6, 0)
	set := `retention: firm
jurisdictions:
  hk: {sources: [test:hk]}
rules:
  - {name: hk-long, match: {jurisdictions: [hk]}, period: {years: 9}}
  - {name: us-short, match: {sources: [test:us]}, period: {years: 4}}
`
	out, err := u.ApplyRetention(as, "v1.yaml", []byte(set))
	if err != nil || out.Recompute == nil {
		t.Fatalf("apply: %+v, %v", out, err)
	}
	rc := out.Recompute
	if rc.Scanned != 3 || rc.Extended != 2 || rc.Events != 1 || rc.Shortened != 1 || rc.Pending != 0 ||
		len(rc.ShortenedExamples) != 1 || rc.ShortenedExamples[0].Serial != res[2].Serial || !rc.ShortenedExamples[0].To.Time.Equal(day(now, 4, 0)) {
		t.Fatalf("recompute: %+v", rc)
	}
	nine := day(now, 9, 0)
	for i, want := range []struct {
		until time.Time
		rule  string
	}{{nine, "hk-long"}, {nine, "hk-long"}, {six, ""}} {
		row, err := r.Store.Message(ctx, res[i].Serial)
		if err != nil || !row.RetainUntil.Time.Equal(want.until) || row.RetentionRule != want.rule {
			t.Errorf("message %d: until %s rule %q, %v; want %s %q", i, row.RetainUntil, row.RetentionRule, err, want.until, want.rule)
		}
	}
	ev := lastEvent(t, r.Store)
	var ext archive.RetentionExtendedEvent
	if ev.Type != archive.EventRetentionExtended || ev.Actor != "cli:carol" || ev.DecodePayload(&ext) != nil || ext.Version != 1 || len(ext.Groups) != 1 ||
		fmt.Sprint(ext.Groups[0].Serials) != fmt.Sprint([]uint64{res[0].Serial, res[1].Serial}) || ext.Groups[0].Rule != "hk-long" {
		t.Fatalf("journaled %+v %+v", ev, ext)
	}
	if info, err := r.Blobs.Stat(ctx, att); err != nil || !info.RetainUntil.Equal(nine) {
		t.Errorf("attachment retained until %v, %v; want %s", info.RetainUntil, err, nine)
	}
	var packs []time.Time
	var packIDs []archive.BlobID
	r.Store.Packs(ctx, func(p store.PackRow) error {
		packIDs = append(packIDs, p.Blob)
		info, err := r.Blobs.Stat(ctx, p.Blob)
		if err != nil {
			return err
		}
		packs = append(packs, info.RetainUntil)
		return nil
	})
	if len(packs) != 1 || !packs[0].Equal(nine) {
		t.Errorf("packs retained until %v, want one until %s (the extended records')", packs, nine)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	// The extension is what the journal requires now. An S3 Object Lock
	// bucket refuses to shorten it; a directory store's meta files, which
	// anyone with write access can edit, are caught by verify when edited
	// back to the old dates.
	if name := r.Blobs.Properties().Name; name != "fsblob" {
		for _, id := range []archive.BlobID{att, packIDs[0]} {
			if err := r.Blobs.SetRetention(ctx, id, six); err == nil {
				t.Fatalf("%s shortened blob %s's retention", name, id)
			}
		}
	} else {
		tamperBlobRetention(t, r, dir, six, nine, att, packIDs[0])
	}
	again, err := u.RecomputeRetention(as)
	if err != nil || again.Extended != 0 || again.Events != 0 || again.Shortened != 1 || again.Unchanged != 2 {
		t.Fatalf("second recompute: %+v, %v", again, err)
	}

	// A version that would keep everything less changes nothing.
	before := lastEvent(t, r.Store).Index
	out, err = u.ApplyRetention(as, "v2.yaml", []byte("retention: firm\nrules:\n  - {name: all, period: {years: 3}}\n"))
	if err != nil || out.Version != 2 || out.Recompute.Shortened != 3 || out.Recompute.Extended != 0 || out.Recompute.Events != 0 {
		t.Fatalf("shortening version: %+v, %v", out.Recompute, err)
	}
	if lastEvent(t, r.Store).Index != before+1 {
		t.Fatal("a shortening version journaled more than its retention.applied")
	}
	if row, _ := r.Store.Message(ctx, res[0].Serial); !row.RetainUntil.Time.Equal(nine) {
		t.Fatalf("shortened to %s", row.RetainUntil)
	}

	rpt, err := u.RetentionReport(as)
	if err != nil || rpt.Version != 2 || len(rpt.Rules) != 2 || rpt.Rules[0].Rule != "retention_years" || rpt.Rules[0].Messages != 1 ||
		rpt.Rules[1].Rule != "hk-long" || rpt.Rules[1].Messages != 2 || len(rpt.Eligible) != 4 || rpt.Eligible[3].Days != 365 || rpt.Eligible[3].Messages != 0 {
		t.Fatalf("report: %+v, %v", rpt, err)
	}
	reviewer := app.WithPrincipal(ctx, app.Principal{Actor: "api:x", User: "x", Via: "api",
		Identity: &auth.Identity{User: "x", Roles: []auth.Role{auth.Reviewer}, Method: auth.MethodToken}})
	var fe *auth.ForbiddenError
	if _, err := u.RecomputeRetention(reviewer); !errors.As(err, &fe) {
		t.Fatalf("a reviewer recomputed: %v", err)
	}
}

// TestRetentionManyDays: under a rule set, a batch of history spanning
// many send days seals into one pack per retain-until day — many packs
// over the same run of the journal — and every record is still found
// (verify, show) through them.
func TestRetentionManyDays(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Add(time.Hour)
	r, _ := archivetest.NewWith(t, repo.InitOptions{}, repo.OpenOptions{Exclusive: true, Now: func() time.Time { return now }})
	u := app.New(app.FromRepo(r))
	as := app.WithPrincipal(ctx, app.Principal{Actor: "cli:carol", User: "carol", Via: "cli"})
	if _, err := u.ApplyRetention(as, "r.yaml", []byte(rulesV1)); err != nil {
		t.Fatal(err)
	}
	var items []ingest.Item
	// Send days interleaved (an export of several conversations, each in
	// order): every day's pack spans nearly the whole run.
	for i := range 300 {
		m, raw := testMessage(fmt.Sprintf("h%d", i), "history")
		m.SentAt = archive.At(now.AddDate(0, 0, -1-i%150))
		items = append(items, ingest.Item{Source: "test:1", Raw: raw, Message: m})
	}
	if _, err := r.Engine.Archive(ctx, "test", items); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Engine.Seal(ctx, true); err != nil {
		t.Fatal(err)
	}
	packs := 0
	r.Store.Packs(ctx, func(store.PackRow) error { packs++; return nil })
	if packs != 150 {
		t.Fatalf("%d packs, want one per retain-until day (150)", packs)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep.Faults[:min(3, len(rep.Faults))])
	}
	// Extending them all finds each one's pack.
	res, err := u.ApplyRetention(as, "r2.yaml", []byte("retention: firm\nrules:\n  - {name: longer, period: {years: 9}}\n"))
	if err != nil || res.Recompute.Extended != 300 {
		t.Fatalf("recompute: %+v, %v", res, err)
	}
	if rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch}); err != nil || !rep.OK {
		t.Fatalf("verify after the extension: %v %+v", err, rep)
	}
}

// tamperBlobRetention edits a directory blob store's meta files back to
// six, checks verify reports each blob, and restores nine through the store.
func tamperBlobRetention(t *testing.T, r *repo.Repo, dir string, six, nine time.Time, att, pack archive.BlobID) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []archive.BlobID{att, pack} {
		s := id.String()
		mp := filepath.Join(dir, repo.BlobDir, "meta", s[:2], s+".json")
		os.Chmod(mp, 0o644)
		old := `{"retain_until":"` + archive.At(six).String() + `","legal_hold":false}` + "\n"
		if err := os.WriteFile(mp, []byte(old), 0o444); err != nil {
			t.Fatal(err)
		}
		os.Chmod(mp, 0o444)
	}
	rep, err := verify.Run(ctx, r, verify.Options{Scratch: archivetest.Engines().Scratch})
	if err != nil || rep.OK {
		t.Fatalf("verify after the blobs were shortened: %v %+v", err, rep)
	}
	var kinds []string
	for _, f := range rep.Faults {
		kinds = append(kinds, f.Kind+" "+f.Object)
	}
	slices.Sort(kinds)
	wantFaults := []string{verify.BlobRetention + " blob:" + att.String(), verify.BlobRetention + " blob:" + pack.String()}
	slices.Sort(wantFaults)
	if fmt.Sprint(kinds) != fmt.Sprint(wantFaults) {
		t.Fatalf("faults %v, want %v", kinds, wantFaults)
	}
	for _, id := range []archive.BlobID{att, pack} {
		if err := r.Blobs.SetRetention(ctx, id, nine); err != nil {
			t.Fatal(err)
		}
	}
}

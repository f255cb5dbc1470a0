package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/repo"
)

func (a *app) showCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show SERIAL|MSGID",
		Short: "Show a message: normalized fields, raw record, hashes and inclusion proof",
		Long: `Show an archived message by serial or by source message id (every version of a
msgid is shown). The view is re-verified: records are checked against the hashes
in the journal, and the journal event is proven included in the latest signed
checkpoint. Every use is recorded in the journal as an access event.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				// The access is journaled before anything is displayed.
				views, err := u.Messages(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					if len(views) == 1 {
						return a.printJSON(views[0])
					}
					return a.printJSON(map[string]any{"versions": views})
				}
				for i, v := range views {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					a.renderView(v, u.Location())
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

func localTime(t archive.Time, loc *time.Location) string {
	return fmt.Sprintf("%s (%s)", t.In(loc).Format("2006-01-02 15:04:05 MST"), t)
}

func (a *app) renderView(v *uc.MessageView, loc *time.Location) {
	w := a.stdout
	m := v.Message
	head := fmt.Sprintf("Message serial %d", v.Serial)
	if v.Version > 1 {
		head += fmt.Sprintf(" — version %d, conflicts with serial %d (different bytes under the same msgid; both kept)", v.Version, v.ConflictsWith)
	}
	fmt.Fprintln(w, head)
	if v.RecalledBy != 0 {
		fmt.Fprintf(w, "  ⚠ RECALLED by the sender (recall is serial %d); the original below is kept as evidence\n", v.RecalledBy)
	}
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "  %-13s %s\n", k, val)
		}
	}
	row("msgid", m.SourceID)
	row("source", m.Source)
	kind := string(m.Kind)
	if m.SourceType != "" && m.SourceType != kind {
		kind += " (" + m.SourceType + ")"
	}
	row("type", kind+"   action "+string(m.Action))
	if m.TimeUnknown {
		row("sent", "unknown (the source gave no usable time; filed at the time captured, "+localTime(m.SentAt, loc)+")")
	} else {
		row("sent", localTime(m.SentAt, loc))
	}
	row("captured", localTime(v.CapturedAt, loc))
	if m.Conversation != "" {
		if n := v.Names[m.Conversation]; n != "" {
			row("conversation", fmt.Sprintf("%s %s (%s)", n, m.Conversation, m.ConversationKind))
		} else {
			row("conversation", fmt.Sprintf("%s (%s)", m.Conversation, m.ConversationKind))
		}
	}
	kinds := map[string]archive.ParticipantKind{}
	for _, p := range m.Participants {
		kinds[p.ID] = p.Kind
	}
	who := func(id string) string {
		name := id
		if n := v.Names[id]; n != "" {
			name = n + " " + id // as they were named when it was sent, the id beside
		}
		if k, ok := kinds[id]; ok {
			return fmt.Sprintf("%s (%s)", name, k)
		}
		return name
	}
	row("from", who(m.Sender))
	var to []string
	for _, r := range m.Recipients {
		to = append(to, who(r))
	}
	row("to", strings.Join(to, ", "))
	row("direction", string(m.Direction))
	if m.RefersTo != "" {
		ref := m.RefersTo
		if v.RefersTo != nil {
			ref += fmt.Sprintf(" (serial %d)", *v.RefersTo)
		} else {
			ref += " (not archived yet)"
		}
		row("refers to", ref)
	}
	if c := m.Consent; c != nil {
		verb := "AGREED to"
		if !c.Agreed {
			verb = "REFUSED"
		}
		row("consent", fmt.Sprintf("%s %s archiving at %s", c.ExternalID, verb, localTime(c.At, loc)))
	}
	row("origin", v.Origin)
	if len(v.Alerts) > 0 {
		var al []string
		for _, x := range v.Alerts {
			s := fmt.Sprintf("%d %s v%d %s (%s", x.ID, x.Policy, x.PolicyVersion, x.Rule, x.Status)
			if x.Assignee != "" {
				s += ", " + x.Assignee
			}
			al = append(al, s+")")
		}
		row("alerts", strings.Join(al, "; ")+"   (wxarchive alerts show ID)")
	}
	row("retain until", v.RetainUntil.String())
	if m.Text != "" {
		fmt.Fprintln(w, "  text:")
		for _, l := range strings.Split(m.Text, "\n") {
			fmt.Fprintln(w, "    "+l)
		}
	}
	if len(m.Details) > 0 {
		fmt.Fprintln(w, "  details:")
		for _, d := range m.Details {
			fmt.Fprintf(w, "    %-14s %s\n", d.Name, d.Value)
		}
	}
	if len(m.Attachments) > 0 {
		fmt.Fprintln(w, "  attachments:")
		for i, at := range m.Attachments {
			desc := fmt.Sprintf("    %d. %-8s %-12s", i+1, at.Role, at.Status)
			if at.FileName != "" {
				desc += " " + at.FileName
			}
			if !at.Blob.IsZero() {
				desc += fmt.Sprintf(" %s %d bytes blob %s", at.MediaType, at.Size, at.Blob.Short())
			} else if at.DeclaredSize > 0 {
				desc += fmt.Sprintf(" (%d bytes announced)", at.DeclaredSize)
			}
			fmt.Fprintln(w, desc)
			if at.Reason != "" {
				fmt.Fprintf(w, "       reason: %s\n", at.Reason)
			}
			if at.SourceRef != "" {
				fmt.Fprintf(w, "       sdkfileid %s  md5 %s\n", at.SourceRef, at.SourceMD5)
			}
			for _, l := range v.FetchedLater {
				if l.Ordinal == i {
					fmt.Fprintf(w, "       fetched after capture: %s %d bytes blob %s\n", l.MediaType, l.Size, l.Blob.Short())
				}
			}
		}
	}
	fmt.Fprintln(w, "  integrity:")
	fmt.Fprintf(w, "    raw record        sha256 %s\n", v.RawSHA256)
	fmt.Fprintf(w, "    normalized record sha256 %s\n", v.RecordSHA256)
	fmt.Fprintf(w, "    stored            %s\n", v.Sealed)
	if p := v.Proof; p != nil {
		status := "VERIFIED"
		if !p.Verified {
			status = "FAILED"
		}
		fmt.Fprintf(w, "    journal leaf      %d, leaf hash %s\n", p.LeafIndex, p.LeafHash)
		fmt.Fprintf(w, "    inclusion proof   %s against signed checkpoint of size %d (root %s, %d hashes)\n", status, p.TreeSize, p.RootHash, len(p.Hashes))
	}
	fmt.Fprintln(w, "  raw:")
	if v.RawBase64 != nil {
		fmt.Fprintf(w, "    (not UTF-8; %d bytes, see --json)\n", len(v.RawBase64))
	} else {
		fmt.Fprintln(w, "    "+v.Raw)
	}
}

package demo

import (
	"context"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/ingest"
	"github.com/wxarchive/wxarchive/journal"
)

// JournalDirectory journals the directory of the seed's data set —
// employees with their departments, titles and supervisory groups, and
// the external contacts — as participant.updated facts valid from 100
// days before DefaultEnd, as a WeCom directory sync would: every message
// is then attributed to who the sender was when it was sent.
func JournalDirectory(ctx context.Context, w ingest.EventWriter, seed int64, actor string) error {
	employees, clients := Directory(seed)
	from := archive.At(DefaultEnd.AddDate(0, 0, -100))
	var evs []journal.Event
	add := func(p archive.ParticipantEvent) error {
		ev, err := journal.NewEvent(archive.EventParticipantUpdated, actor, archive.Time{}, nil, &p)
		evs = append(evs, ev)
		return err
	}
	for _, e := range employees {
		if err := add(archive.ParticipantEvent{ID: e.UserID, Kind: archive.ParticipantEmployee, Name: e.Name,
			Department: e.Department, Title: e.Title, SupervisoryGroup: e.SupervisoryGroup, ValidFrom: from}); err != nil {
			return err
		}
	}
	for _, c := range clients {
		if err := add(archive.ParticipantEvent{ID: c.ExternalUserID, Kind: archive.ParticipantExternal, Name: c.Name, ValidFrom: from}); err != nil {
			return err
		}
	}
	// Group names, as the msgaudit connector records them from
	// groupchat/get (kind "room": a room is not a party, but the directory
	// is the archive's time-valid record of names).
	for _, rm := range newDirectory(seed).rooms {
		if err := add(archive.ParticipantEvent{ID: rm.RoomID, Kind: "room", Name: rm.Name, ValidFrom: from}); err != nil {
			return err
		}
	}
	_, err := w.Append(ctx, evs...)
	return err
}

package repo_test

import (
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/journal"
)

func participant(id, dept string) journal.Event {
	ev, _ := journal.NewEvent(archive.EventParticipantUpdated, "test", archive.Time{}, nil, &archive.ParticipantEvent{
		ID: id, Kind: archive.ParticipantEmployee, Name: "李娜", Department: dept, ValidFrom: archive.MillisTime(1700000000000)})
	return ev
}

package postgres

import (
	"context"
	"errors"

	"github.com/wxarchive/wxarchive/store"
)

// Search implements store.Reader.
func (s *Store) Search(ctx context.Context, req store.SearchRequest) (store.SearchPage, error) {
	return store.SearchPage{}, errors.New("search: not implemented yet")
}

package client

import "context"

// allPages calls page from the first cursor ("") until one returns the
// last (""), collecting every item: the one loop behind AllMembers and
// AllSeatRequests. On an error it returns what it has with the error.
func allPages[T any](ctx context.Context, pageSize int, page func(ctx context.Context, cursor string, limit int) ([]T, string, error)) ([]T, error) {
	var all []T
	cursor := ""
	for {
		items, next, err := page(ctx, cursor, pageSize)
		if err != nil {
			return all, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		cursor = next
	}
}

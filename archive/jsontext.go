package archive

import "slices"

// PathStep is one step down into a JSON value: an object key, or an array
// index when IsIndex is set.
type PathStep struct {
	Key     string
	Index   int
	IsIndex bool
}

// WalkJSONStrings calls fn with every string in v, a value as
// encoding/json decodes it into an interface (string, float64, bool, nil,
// []any, map[string]any): depth first, array elements in order and object
// keys in sorted order, so the text a source's unknown content yields never
// depends on map iteration. It is the one walk behind the text of unknown
// message types (DESIGN §3: all human-readable text, for search); which
// strings count as text, and how they are joined, is each caller's rule.
//
// path holds the steps from v to the string. It is reused between calls
// (copy it to keep it) and costs nothing unless fn reads it: a caller that
// only reports a path with an error spells it out only then. Numbers,
// booleans and null are not text. An error from fn stops the walk and is
// returned.
func WalkJSONStrings(v any, fn func(s string, path []PathStep) error) error {
	var path []PathStep
	return walkJSON(v, &path, fn)
}

func walkJSON(v any, path *[]PathStep, fn func(string, []PathStep) error) error {
	switch x := v.(type) {
	case string:
		return fn(x, *path)
	case []any:
		for i, e := range x {
			*path = append(*path, PathStep{Index: i, IsIndex: true})
			err := walkJSON(e, path, fn)
			*path = (*path)[:len(*path)-1]
			if err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			*path = append(*path, PathStep{Key: k})
			err := walkJSON(x[k], path, fn)
			*path = (*path)[:len(*path)-1]
			if err != nil {
				return err
			}
		}
	}
	return nil
}

package configs

// The difference between two configurations, as the YAML key paths that
// differ: what a configuration reload reports and decides on (the
// gateway's reload.go). Only paths are ever reported, never values, so
// the log of a reload cannot leak a password hash, a token or a key.

import (
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Diff returns the sorted key paths whose values differ between a
// and b, e.g. "tls.main.files", "acl.rules", "listeners[ws].profile".
// Maps (tls, profiles, auth.backends) are compared entry by entry, as are
// lists whose elements have a name or username (listeners[NAME],
// auth.users[NAME]): an entry present on one side only is reported as
// its own path. Other lists (acl.rules, files) are compared whole.
func Diff(a, b *Config) []string {
	var out []string
	diffValue("", reflect.ValueOf(*a), reflect.ValueOf(*b), &out)
	sort.Strings(out)
	return slices.Compact(out)
}

func diffValue(path string, a, b reflect.Value, out *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			diffValue(join(path, name), a.Field(i), b.Field(i), out)
		}
	case reflect.Map:
		keys := map[string]bool{}
		for _, k := range a.MapKeys() {
			keys[k.String()] = true
		}
		for _, k := range b.MapKeys() {
			keys[k.String()] = true
		}
		for k := range keys {
			kv := reflect.ValueOf(k).Convert(a.Type().Key())
			av, bv := a.MapIndex(kv), b.MapIndex(kv)
			if !av.IsValid() || !bv.IsValid() {
				*out = append(*out, join(path, k))
				continue
			}
			diffValue(join(path, k), av, bv, out)
		}
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path)
			}
			return
		}
		diffValue(path, a.Elem(), b.Elem(), out)
	case reflect.Slice:
		if field := keyField(a.Type().Elem()); field >= 0 {
			diffKeyed(path, field, a, b, out)
			return
		}
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	}
}

// diffKeyed compares two lists of named elements by name; the order of
// the elements does not matter.
func diffKeyed(path string, field int, a, b reflect.Value, out *[]string) {
	index := func(v reflect.Value) map[string]reflect.Value {
		m := make(map[string]reflect.Value, v.Len())
		for i := range v.Len() {
			m[v.Index(i).Field(field).String()] = v.Index(i)
		}
		return m
	}
	am, bm := index(a), index(b)
	for k, av := range am {
		bv, ok := bm[k]
		if !ok {
			*out = append(*out, path+"["+k+"]")
			continue
		}
		diffValue(path+"["+k+"]", av, bv, out)
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			*out = append(*out, path+"["+k+"]")
		}
	}
}

// keyField returns 0 when the first field of struct type t is a string
// "name" or "username" (Listener, User; not ACLRule, whose username is
// a condition), else -1.
func keyField(t reflect.Type) int {
	if t.Kind() != reflect.Struct || t.NumField() == 0 {
		return -1
	}
	f := t.Field(0)
	if n := yamlName(f); (n == "name" || n == "username") && f.Type.Kind() == reflect.String {
		return 0
	}
	return -1
}

// yamlName is the YAML key of an exported field, "" for none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// HasKey reports whether one of keys (paths of Diff) is prefix or lies
// under it ("tls.main" covers "tls.main.files"; "listeners[" any
// listener).
func HasKey(keys []string, prefix string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return UnderKey(k, prefix) })
}

// UnderKey reports whether the key path k is prefix or lies under it:
// "acl" covers "acl.rules" but not "acl_x"; a prefix ending in "[" or
// "." covers whatever follows it.
func UnderKey(k, prefix string) bool {
	if !strings.HasPrefix(k, prefix) {
		return false
	}
	if len(k) == len(prefix) || strings.HasSuffix(prefix, "[") || strings.HasSuffix(prefix, ".") {
		return true
	}
	switch k[len(prefix)] {
	case '.', '[':
		return true
	}
	return false
}

// ListenerKey splits the key path "listeners[NAME].rest" into NAME and
// rest ("" when the key is the whole listener); ok is false for other
// keys.
func ListenerKey(k string) (name, rest string, ok bool) {
	after, found := strings.CutPrefix(k, "listeners[")
	if !found {
		return "", "", false
	}
	name, rest, found = strings.Cut(after, "]")
	if !found {
		return "", "", false
	}
	return name, strings.TrimPrefix(rest, "."), true
}

package sqlite

import "testing"

func TestCheckPath(t *testing.T) {
	for path, ok := range map[string]bool{
		"data/tokenflow.db": true, "/var/lib/tf.db": true,
		"": false, "   ": false, "x.db?mode=ro": false, "data/x.db?_pragma=foreign_keys(0)": false,
	} {
		if err := CheckPath(path); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v, want ok %v", path, err, ok)
		}
	}
}

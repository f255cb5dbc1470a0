package bench

import (
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// BenchmarkSQLiteCeiling writes only the rows wxarchive writes per message
// — a 500-byte journal leaf with its hash, the raw (330 B) and normalized
// (430 B) records, and the 28-column index row with its unique msgid index
// — with nothing else: no decoding, JSON, tree or signing. Batches of 1,000
// per transaction, 8 KiB pages, WAL. With sync, the WAL is fsynced after
// each commit, as the engine's Sync does. It is the ceiling of the data
// model on this SQLite, against which BenchmarkIngestBatched is judged.
//
// The variants drop the record rows and/or narrow the index row to five
// columns, to show what a slimmer design could reach.
func BenchmarkSQLiteCeiling(b *testing.B) {
	type variant struct {
		name            string
		sync, records   bool
		narrowIndexRows bool
	}
	for _, v := range []variant{
		{"fsync=false", false, true, false},
		{"fsync=true", true, true, false},
		{"fsync=true/no-records", true, false, false},
		{"fsync=true/narrow-row", true, true, true},
		{"fsync=true/no-records/narrow-row", true, false, true},
	} {
		sync := v.sync
		b.Run(v.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "x.db")
			c, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				b.Fatal(err)
			}
			c.Exec("PRAGMA page_size=8192")
			c.Exec("PRAGMA journal_mode=WAL")
			c.Close()
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-65536)&_txlock=immediate")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, s := range []string{
				`CREATE TABLE journal(idx INTEGER PRIMARY KEY, hash BLOB NOT NULL, leaf BLOB NOT NULL)`,
				`CREATE TABLE pending(key INTEGER PRIMARY KEY, hash BLOB, retain_until INT, created_at INT, data BLOB)`,
				`CREATE TABLE messages(serial INTEGER PRIMARY KEY, jidx INT, source TEXT, source_id TEXT, version INT, conflicts_with INT,
					kind TEXT, source_type TEXT, action TEXT, sent_at INT, captured_at INT, conversation TEXT, conv_kind TEXT, sender TEXT,
					recipients TEXT, direction TEXT, text TEXT, raw_hash BLOB, record_hash BLOB, raw_size INT, record_size INT,
					n_attachments INT, attach_faults INT, refers_to TEXT, recalled_by INT, retain_until INT, origin TEXT)`,
				`CREATE UNIQUE INDEX m_src ON messages(source_id, source, version)`,
				`CREATE TABLE narrow(serial INTEGER PRIMARY KEY, source_id TEXT, source TEXT, version INT, data BLOB)`,
				`CREATE UNIQUE INDEX n_src ON narrow(source_id, source, version)`,
			} {
				if _, err := db.Exec(s); err != nil {
					b.Fatal(err)
				}
			}
			leaf, raw, rec := make([]byte, 500), make([]byte, 330), make([]byte, 430)
			rand.Read(raw)
			rand.Read(rec)
			const batch = 1000
			b.ResetTimer()
			for n := 0; n < b.N; {
				tx, err := db.Begin()
				if err != nil {
					b.Fatal(err)
				}
				ij, _ := tx.Prepare(`INSERT INTO journal(idx,hash,leaf) VALUES(?,?,?)`)
				ip, _ := tx.Prepare(`INSERT INTO pending(key,hash,retain_until,created_at,data) VALUES(?,?,?,?,?)`)
				im, _ := tx.Prepare(`INSERT INTO messages VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
				in, _ := tx.Prepare(`INSERT INTO narrow VALUES(?,?,?,?,?)`)
				for i := 0; i < batch && n < b.N; i++ {
					n++
					h := sha256.Sum256(leaf)
					id := fmt.Sprintf("%d_%d", uint64(n)*7919%1000003*1000000007, 1783000000+n)
					ij.Exec(n, h[:], leaf)
					if v.records {
						ip.Exec(n*8, h[:], 1, 2, raw)
						ip.Exec(n*8+1, h[:], 1, 2, rec)
					}
					if v.narrowIndexRows {
						if _, err := in.Exec(n, id, "wecom-archive:ww5f3c9a1e2b7d4068", 1, rec[:200]); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if _, err := im.Exec(n, n, "wecom-archive:ww5f3c9a1e2b7d4068", id, 1, nil, "text", "text", "send", 1700000000000+n, 1700000000000+n,
						"direct:wmgBqJDQAALDxxxxxxxxxxxxxxxxxxxx|zhangwei", "direct", "zhangwei", `["wmgBqJDQAALDxxxxxxxxxxxxxxxxxxxx"]`, "outbound",
						"谭姐早上好☀️ 您上次问的港股通红利精选混合，我整理了一下：近三年年化17.63%", h[:], h[:], 330, 430, 0, 0, nil, nil, 1900000000000,
						"file:x.jsonl line 123"); err != nil {
						b.Fatal(err)
					}
				}
				ij.Close()
				ip.Close()
				im.Close()
				in.Close()
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				if sync {
					f, err := os.Open(path + "-wal")
					if err != nil {
						b.Fatal(err)
					}
					f.Sync()
					f.Close()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/blob"
)

// Names in the object layout (see the package doc).
const (
	TagRetainUntil   = "wxarchive-retain-until"
	MetaStoredAt     = "wxarchive-stored-at"
	metaStoredAtHdr  = "X-Amz-Meta-Wxarchive-Stored-At"
	blobsDir         = "blobs/"
	defaultTimeout   = 2 * time.Minute
	defaultRetries   = 5
	createRetries    = 5 // a Put racing a Delete of the same bytes
	lockStripes      = 256
	listHeads        = 8 // HEADs in flight during List
	hdrLockMode      = "X-Amz-Object-Lock-Mode"
	hdrLockUntil     = "X-Amz-Object-Lock-Retain-Until-Date"
	hdrLegalHold     = "X-Amz-Object-Lock-Legal-Hold"
	s3PreconditionOK = "PreconditionFailed"
)

// ErrNoObjectLock is returned by Open for a bucket without Object Lock.
var ErrNoObjectLock = errors.New("bucket has no Object Lock enabled")

// ErrNoBucket is returned by Open for a bucket that does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// Options configure a Store.
type Options struct {
	Endpoint  string // host[:port] of the S3 API
	Bucket    string
	Prefix    string // key prefix: empty, or ending in "/"
	Region    string // empty: the server's default
	Secure    bool   // HTTPS
	AccessKey string
	SecretKey string // never logged nor put in an error

	Now        func() time.Time  // decides whether a retain-until has passed and stamps stored-at; default time.Now
	Timeout    time.Duration     // per call, retries included; default 2 min
	MaxRetries int               // per request, for transient failures; default 5
	Transport  http.RoundTripper // default: minio-go's, with response-header timeout
}

// Store is the S3 Object Lock blob.Store.
type Store struct {
	c       *minio.Client
	bucket  string
	prefix  string
	now     func() time.Time
	timeout time.Duration
	loc     string
	stripes [lockStripes]sync.Mutex
}

var _ blob.Store = (*Store)(nil)

// Open connects to the bucket and refuses to start, naming the bucket,
// when it does not exist or has no Object Lock.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Endpoint == "" {
		return nil, errors.New("s3blob: endpoint is empty")
	}
	if err := checkBucketName(o.Bucket); err != nil {
		return nil, err
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return nil, fmt.Errorf("s3blob: bucket %s: access key and secret key are required (requests are always signed)", o.Bucket)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = defaultRetries
	}
	tr := o.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(o.Secure)
		if err != nil {
			return nil, fmt.Errorf("s3blob: %w", err)
		}
		t.ResponseHeaderTimeout = time.Minute
		tr = t
	}
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:     o.Secure,
		Region:     o.Region,
		Transport:  tr,
		MaxRetries: o.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: endpoint %q: %w", o.Endpoint, err)
	}
	scheme := "http"
	if o.Secure {
		scheme = "https"
	}
	s := &Store{c: c, bucket: o.Bucket, prefix: o.Prefix, now: o.Now, timeout: o.Timeout,
		loc: fmt.Sprintf("s3://%s/%s (%s://%s)", o.Bucket, o.Prefix, scheme, o.Endpoint)}
	cctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	enabled, _, _, _, err := c.GetObjectLockConfig(cctx, o.Bucket)
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "NoSuchBucket":
			return nil, fmt.Errorf("s3blob: bucket %s at %s: %w", o.Bucket, o.Endpoint, ErrNoBucket)
		case "ObjectLockConfigurationNotFoundError":
			return nil, fmt.Errorf("s3blob: bucket %s at %s: %w: create it with Object Lock (docs/DEPLOY.md)", o.Bucket, o.Endpoint, ErrNoObjectLock)
		}
		return nil, fmt.Errorf("s3blob: bucket %s at %s: reading its Object Lock configuration: %w", o.Bucket, o.Endpoint, err)
	}
	if enabled != "Enabled" {
		return nil, fmt.Errorf("s3blob: bucket %s at %s: %w (ObjectLockEnabled is %q)", o.Bucket, o.Endpoint, ErrNoObjectLock, enabled)
	}
	return s, nil
}

// Properties implements blob.Store.
func (s *Store) Properties() blob.Properties {
	return blob.Properties{Name: "s3blob", Location: s.loc, ObjectLock: true}
}

// Key returns the object key of blob id (the layout of the package doc).
func (s *Store) Key(id archive.BlobID) string {
	h := id.String()
	return s.prefix + blobsDir + h[:2] + "/" + h
}

// Bucket is the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

func (s *Store) parseKey(key string) (archive.BlobID, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix+blobsDir)
	if !ok || len(rest) != 2+1+64 || rest[2] != '/' || rest[:2] != rest[3:5] {
		return archive.BlobID{}, false
	}
	id, err := archive.ParseBlobID(rest[3:])
	if err != nil || id.String() != rest[3:] { // lower case only
		return archive.BlobID{}, false
	}
	return id, true
}

func (s *Store) mu(id archive.BlobID) *sync.Mutex { return &s.stripes[id[0]] }

// state is what one HEAD (and, when tagged, one tagging GET) tells of a
// blob's current version.
type state struct {
	version   string
	size      int64
	storedAt  time.Time
	lockUntil time.Time // zero: no lock
	hold      bool
	tag       time.Time // zero: no tag
	tags      map[string]string
}

// retainUntil is the blob's retain-until by the package doc's rule.
func (st state) retainUntil() time.Time {
	if st.lockUntil.After(ceilSecond(st.tag)) {
		return st.lockUntil
	}
	return st.tag
}

func (s *Store) info(id archive.BlobID, st state) blob.Info {
	return blob.Info{ID: id, Size: st.size, RetainUntil: st.retainUntil(), LegalHold: st.hold, StoredAt: st.storedAt}
}

func ceilSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

func (s *Store) head(ctx context.Context, id archive.BlobID) (state, error) {
	oi, err := s.c.StatObject(ctx, s.bucket, s.Key(id), minio.StatObjectOptions{})
	if err != nil {
		return state{}, s3err(ctx, err)
	}
	st := state{version: oi.VersionID, size: oi.Size, storedAt: oi.LastModified}
	// Our stamp, else (a version not put by this store, or a garbled
	// stamp) the server's own: StoredAt only tells a checker how recent a
	// blob is, so it need not fail closed as retention does.
	if t, err := time.Parse(time.RFC3339Nano, oi.Metadata.Get(metaStoredAtHdr)); err == nil {
		st.storedAt = t
	}
	if v := oi.Metadata.Get(hdrLockUntil); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return state{}, fmt.Errorf("header %s %q: %w", hdrLockUntil, v, err)
		}
		st.lockUntil = t.UTC()
	}
	st.hold = strings.EqualFold(oi.Metadata.Get(hdrLegalHold), "ON")
	if oi.UserTagCount > 0 {
		tg, err := s.c.GetObjectTagging(ctx, s.bucket, s.Key(id), minio.GetObjectTaggingOptions{VersionID: st.version})
		if err != nil {
			return state{}, s3err(ctx, err)
		}
		st.tags = tg.ToMap()
		if v, ok := st.tags[TagRetainUntil]; ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				// Retention fails closed: an unreadable record stops
				// every retention change and Delete.
				return state{}, fmt.Errorf("tag %s %q: %w", TagRetainUntil, v, err)
			}
			st.tag = t.UTC()
		}
	}
	return st, nil
}

// s3err maps an S3 or transport error to the blob sentinels; the caller
// wraps it in a *blob.Error.
func s3err(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	switch r := minio.ToErrorResponse(err); {
	case r.Code == "NoSuchKey" || r.Code == "NoSuchVersion" || r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket":
		return blob.ErrNotFound
	}
	return err
}

func (s *Store) fail(op string, id archive.BlobID, err error) error {
	if err == nil {
		return nil
	}
	var ie *blob.IntegrityError
	if errors.As(err, &ie) {
		return err
	}
	return &blob.Error{Op: op, ID: id, Err: err}
}

func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, data []byte, opts blob.PutOptions) (archive.BlobID, error) {
	id := archive.Hash(data)
	if err := ctx.Err(); err != nil {
		return id, s.fail("put", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	return id, s.fail("put", id, s.put(ctx, id, data, opts))
}

func (s *Store) put(ctx context.Context, id archive.BlobID, data []byte, opts blob.PutOptions) error {
	for range createRetries {
		po := minio.PutObjectOptions{
			ContentType:      "application/octet-stream",
			DisableMultipart: true, // one PUT, so If-None-Match applies to the whole object
			UserMetadata:     map[string]string{MetaStoredAt: s.now().UTC().Format(time.RFC3339Nano)},
		}
		po.SetMatchETagExcept("*") // create-only: 412 when the key exists
		if !opts.RetainUntil.IsZero() {
			po.UserTags = map[string]string{TagRetainUntil: opts.RetainUntil.UTC().Format(time.RFC3339Nano)}
			if until := ceilSecond(opts.RetainUntil); until.After(s.now()) {
				po.Mode, po.RetainUntilDate = minio.Compliance, until.UTC()
			}
		}
		if opts.LegalHold {
			po.LegalHold = minio.LegalHoldEnabled
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := s.c.PutObject(ctx, s.bucket, s.Key(id), bytes.NewReader(data), int64(len(data)), po)
		if err == nil {
			return nil
		}
		if minio.ToErrorResponse(err).Code != s3PreconditionOK {
			return s3err(ctx, err)
		}
		// The key exists: verify the stored bytes instead of writing
		// them again, then merge the retention. Only this read-modify-
		// write needs the blob's mutex; the conditional PUT is atomic on
		// the server, so Puts of distinct blobs never wait for each other.
		m := s.mu(id)
		m.Lock()
		err = s.existing(ctx, id, opts)
		m.Unlock()
		if !errors.Is(err, blob.ErrNotFound) {
			return err
		}
		// Deleted since the PUT was refused: go round again.
	}
	return fmt.Errorf("the key kept existing and vanishing over %d attempts", createRetries)
}

// existing handles a Put of bytes already stored.
func (s *Store) existing(ctx context.Context, id archive.BlobID, opts blob.PutOptions) error {
	st, err := s.head(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.read(ctx, id, st.version); err != nil {
		// A damaged copy stays for the checker: replacing it would hide
		// the damage.
		return err
	}
	if until := opts.RetainUntil; !until.IsZero() && until.After(st.retainUntil()) {
		if err := s.setRetention(ctx, id, st, until); err != nil {
			return err
		}
	}
	if opts.LegalHold && !st.hold {
		return s.setHold(ctx, id, st, true)
	}
	return nil
}

// read returns the bytes of the given version (current when empty),
// re-hashed.
func (s *Store) read(ctx context.Context, id archive.BlobID, version string) ([]byte, error) {
	obj, err := s.c.GetObject(ctx, s.bucket, s.Key(id), minio.GetObjectOptions{VersionID: version})
	if err != nil {
		return nil, s3err(ctx, err)
	}
	defer obj.Close()
	var buf bytes.Buffer
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(&buf, h), obj); err != nil {
		return nil, s3err(ctx, err)
	}
	b := buf.Bytes()
	if actual := archive.BlobID(h.Sum(nil)); actual != id {
		return nil, &blob.IntegrityError{ID: id, Actual: actual, Size: int64(len(b)), Data: b}
	}
	return b, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, id archive.BlobID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.fail("get", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	b, err := s.read(ctx, id, "")
	return b, s.fail("get", id, err)
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, id archive.BlobID) (blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return blob.Info{}, s.fail("stat", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	st, err := s.head(ctx, id)
	if err != nil {
		return blob.Info{}, s.fail("stat", id, err)
	}
	return s.info(id, st), nil
}

// List implements blob.Store. S3 listings carry no tags or lock state
// (and SeaweedFS returns no metadata with them), so each blob costs a
// HEAD, and a tagging GET when it has retention; listHeads of them run at
// once, and fn is called from List's goroutine, one blob at a time.
func (s *Store) List(ctx context.Context, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob list: %w", err)
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the lister and the workers on an early return
	type result struct {
		info blob.Info
		err  error
	}
	ids := make(chan archive.BlobID)
	results := make(chan result)
	var listErr error // written before ids is closed, read after results is
	go func() {
		defer close(ids)
		for oi := range s.c.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + blobsDir, Recursive: true}) {
			if oi.Err != nil {
				listErr = fmt.Errorf("s3blob list %s: %w", s.bucket, s3err(lctx, oi.Err))
				return
			}
			id, ok := s.parseKey(oi.Key)
			if !ok {
				continue
			}
			select {
			case ids <- id:
			case <-lctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range listHeads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				cctx, ccancel := s.call(lctx)
				st, err := s.head(cctx, id)
				ccancel()
				var r result
				switch {
				case errors.Is(err, blob.ErrNotFound):
					continue // deleted since it was listed
				case err != nil:
					r.err = s.fail("list", id, err)
				default:
					r.info = s.info(id, st)
				}
				select {
				case results <- r:
				case <-lctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		if r.err != nil {
			return r.err
		}
		if err := fn(r.info); err != nil {
			return err
		}
	}
	if listErr != nil {
		return listErr
	}
	return ctx.Err()
}

// SetRetention implements blob.Store.
func (s *Store) SetRetention(ctx context.Context, id archive.BlobID, until time.Time) error {
	if err := ctx.Err(); err != nil {
		return s.fail("set-retention", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	m := s.mu(id)
	m.Lock()
	defer m.Unlock()
	st, err := s.head(ctx, id)
	if err != nil {
		return s.fail("set-retention", id, err)
	}
	cur := st.retainUntil()
	if until.Before(cur) || until.IsZero() && !cur.IsZero() {
		return s.fail("set-retention", id, fmt.Errorf("%w: %s is before the current %s", blob.ErrRetentionShortened, fmtTime(until), fmtTime(cur)))
	}
	if until.Equal(cur) {
		return nil
	}
	return s.fail("set-retention", id, s.setRetention(ctx, id, st, until))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// setRetention extends st's retention to until (later than its current):
// the lock first, while until is in the future, then the tag.
func (s *Store) setRetention(ctx context.Context, id archive.BlobID, st state, until time.Time) error {
	if lock := ceilSecond(until).UTC(); lock.After(s.now()) && lock.After(st.lockUntil) {
		mode := minio.Compliance
		err := s.c.PutObjectRetention(ctx, s.bucket, s.Key(id), minio.PutObjectRetentionOptions{
			Mode: &mode, RetainUntilDate: &lock, VersionID: st.version,
		})
		if err != nil {
			if minio.ToErrorResponse(err).Code == "AccessDenied" {
				return fmt.Errorf("%w: the server refused retain-until %s (%v)", blob.ErrRetentionShortened, fmtTime(lock), err)
			}
			return s3err(ctx, err)
		}
	}
	tm := map[string]string{}
	for k, v := range st.tags {
		tm[k] = v
	}
	tm[TagRetainUntil] = until.UTC().Format(time.RFC3339Nano)
	tg, err := tags.MapToObjectTags(tm)
	if err != nil {
		return err
	}
	return s3err(ctx, s.c.PutObjectTagging(ctx, s.bucket, s.Key(id), tg, minio.PutObjectTaggingOptions{VersionID: st.version}))
}

// SetLegalHold implements blob.Store.
func (s *Store) SetLegalHold(ctx context.Context, id archive.BlobID, on bool) error {
	if err := ctx.Err(); err != nil {
		return s.fail("set-legal-hold", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	m := s.mu(id)
	m.Lock()
	defer m.Unlock()
	st, err := s.head(ctx, id)
	if err != nil {
		return s.fail("set-legal-hold", id, err)
	}
	if st.hold == on {
		return nil
	}
	return s.fail("set-legal-hold", id, s.setHold(ctx, id, st, on))
}

func (s *Store) setHold(ctx context.Context, id archive.BlobID, st state, on bool) error {
	status := minio.LegalHoldDisabled
	if on {
		status = minio.LegalHoldEnabled
	}
	return s3err(ctx, s.c.PutObjectLegalHold(ctx, s.bucket, s.Key(id), minio.PutObjectLegalHoldOptions{VersionID: st.version, Status: &status}))
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, id archive.BlobID, journal blob.Retention) error {
	if err := ctx.Err(); err != nil {
		return s.fail("delete", id, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	m := s.mu(id)
	m.Lock()
	defer m.Unlock()
	return s.fail("delete", id, s.delete(ctx, id, journal))
}

func (s *Store) delete(ctx context.Context, id archive.BlobID, journal blob.Retention) error {
	st, err := s.head(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	switch {
	case st.hold:
		return blob.ErrLegalHold
	case journal.LegalHold:
		return fmt.Errorf("%w (by the journal)", blob.ErrLegalHold)
	case st.retainUntil().After(now):
		return fmt.Errorf("%w until %s", blob.ErrRetained, fmtTime(st.retainUntil()))
	case journal.RetainUntil.After(now):
		return fmt.Errorf("%w until %s (by the journal)", blob.ErrRetained, fmtTime(journal.RetainUntil))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Every version, delete markers included: on a versioned bucket a
	// plain delete would hide the bytes and keep them.
	key := s.Key(id)
	var versions []string
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			return s3err(ctx, oi.Err)
		}
		if oi.Key == key {
			versions = append(versions, oi.VersionID)
		}
	}
	for _, v := range versions {
		err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: v})
		if err == nil {
			continue
		}
		if minio.ToErrorResponse(err).Code == "AccessDenied" {
			// The server's lock outlasts the retention recorded here (a
			// version not put by this store, or edited records).
			return fmt.Errorf("%w: the server refused to delete version %s (%v)", blob.ErrRetained, v, err)
		}
		if errors.Is(s3err(ctx, err), blob.ErrNotFound) {
			continue
		}
		return s3err(ctx, err)
	}
	return nil
}

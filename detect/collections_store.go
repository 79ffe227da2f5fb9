package detect

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// The collections file (bbolt) holds:
//
//	meta         "version" → "1"
//	collections  id → JSON {"threshold","recognizer","created"}
//	faces        id → bucket: face id → face record (encodeFace)
//	crops        id → bucket: face id → JPEG of the face as uploaded
//
// and is loaded whole into memory at open.
var (
	bucketMeta        = []byte("meta")
	bucketCollections = []byte("collections")
	bucketFaces       = []byte("faces")
	bucketCrops       = []byte("crops")
	keyVersion        = []byte("version")
)

const storeVersion = "1"

// ErrBadRecord is returned for a stored face record that does not decode.
var ErrBadRecord = errors.New("bad face record")

type collectionRecord struct {
	Threshold  float64   `json:"threshold"`
	Recognizer string    `json:"recognizer"`
	Created    time.Time `json:"created"`
}

func putCollection(tx *bolt.Tx, meta Collection) error {
	b, err := json.Marshal(collectionRecord{Threshold: meta.Threshold, Recognizer: meta.Recognizer, Created: meta.Created})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketCollections).Put([]byte(meta.ID), b); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketFaces, bucketCrops} {
		if _, err := tx.Bucket(name).CreateBucketIfNotExists([]byte(meta.ID)); err != nil {
			return err
		}
	}
	return nil
}

func deleteCollection(tx *bolt.Tx, id string) error {
	for _, name := range [][]byte{bucketFaces, bucketCrops} {
		if err := tx.Bucket(name).DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
	}
	return tx.Bucket(bucketCollections).Delete([]byte(id))
}

func putFace(tx *bolt.Tx, id string, f memFace, crop []byte) error {
	rec, err := encodeFace(f)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketFaces).Bucket([]byte(id)).Put([]byte(f.FaceID), rec); err != nil {
		return err
	}
	if crop != nil {
		return tx.Bucket(bucketCrops).Bucket([]byte(id)).Put([]byte(f.FaceID), crop)
	}
	return nil
}

func deleteFace(tx *bolt.Tx, id, faceID string) error {
	for _, name := range [][]byte{bucketFaces, bucketCrops} {
		if b := tx.Bucket(name).Bucket([]byte(id)); b != nil {
			if err := b.Delete([]byte(faceID)); err != nil {
				return err
			}
		}
	}
	return nil
}

// load creates the buckets of a new file and reads every collection of an
// existing one.
func load(db *bolt.DB) (map[string]*memCollection, error) {
	colls := map[string]*memCollection{}
	err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			if err := meta.Put(keyVersion, []byte(storeVersion)); err != nil {
				return err
			}
		case string(v) != storeVersion:
			return fmt.Errorf("collections file version %q, this build reads %q", v, storeVersion)
		}
		for _, name := range [][]byte{bucketCollections, bucketFaces, bucketCrops} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		faces := tx.Bucket(bucketFaces)
		return tx.Bucket(bucketCollections).ForEach(func(k, v []byte) error {
			var r collectionRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("collection %q: %w", k, err)
			}
			mc := &memCollection{
				meta:  Collection{ID: string(k), Threshold: r.Threshold, Recognizer: r.Recognizer, Created: r.Created},
				index: map[string]int{},
			}
			if fb := faces.Bucket(k); fb != nil {
				err := fb.ForEach(func(fk, fv []byte) error {
					f, err := decodeFace(fv)
					if err != nil {
						return fmt.Errorf("collection %q face %q: %w", k, fk, err)
					}
					f.FaceID = string(fk)
					mc.faces = append(mc.faces, f)
					return nil
				})
				if err != nil {
					return err
				}
			}
			// Keys are random: restore enrolment order.
			sort.SliceStable(mc.faces, func(i, j int) bool { return mc.faces[i].Created.Before(mc.faces[j].Created) })
			for i, f := range mc.faces {
				mc.index[f.FaceID] = i
			}
			colls[mc.meta.ID] = mc
			return nil
		})
	})
	return colls, err
}

// A face record is
//
//	version      byte, 1
//	external id  uvarint length, UTF-8 bytes
//	box          4 float64 (left, top, width, height), little endian
//	confidence   float64
//	created      varint, Unix nanoseconds
//	template     the rest: Template.MarshalBinary
//
// The face id is the record's key.
func encodeFace(f memFace) ([]byte, error) {
	t, err := f.template.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(f.ExternalID)+40+binary.MaxVarintLen64+len(t))
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(f.ExternalID)))
	b = append(b, f.ExternalID...)
	for _, v := range []float64{f.Box.Left, f.Box.Top, f.Box.Width, f.Box.Height, f.Confidence} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.AppendVarint(b, f.Created.UnixNano())
	return append(b, t...), nil
}

func decodeFace(b []byte) (memFace, error) {
	var f memFace
	if len(b) < 1 || b[0] != 1 {
		return f, fmt.Errorf("%w: unknown version", ErrBadRecord)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxExternalIDLen || uint64(len(b)-k) < n {
		return f, fmt.Errorf("%w: external id", ErrBadRecord)
	}
	f.ExternalID = string(b[k : k+int(n)])
	if !utf8.ValidString(f.ExternalID) {
		return f, fmt.Errorf("%w: external id is not UTF-8", ErrBadRecord)
	}
	b = b[k+int(n):]
	if len(b) < 40 {
		return f, fmt.Errorf("%w: short", ErrBadRecord)
	}
	var v [5]float64
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	f.Box = Box{Left: v[0], Top: v[1], Width: v[2], Height: v[3]}
	f.Confidence = v[4]
	b = b[40:]
	ns, k := binary.Varint(b)
	if k <= 0 {
		return f, fmt.Errorf("%w: created", ErrBadRecord)
	}
	f.Created = time.Unix(0, ns).UTC()
	t, err := UnmarshalTemplate(b[k:])
	if err != nil {
		return f, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	f.template = t
	return f, nil
}

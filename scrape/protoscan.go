package scrape

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrHistogramTooLarge is reported when a protobuf scrape body holds a
// histogram with more buckets than the scrape will decode (see
// maxDecodedBuckets).
var ErrHistogramTooLarge = errors.New("histogram has too many buckets")

// maxDecodedBuckets is the most buckets (classic buckets, spans and native
// bucket counts together) one histogram of a protobuf body may carry before
// it is decoded: decoding expands a one-byte delta into 16 bytes or more, so
// without this check a 64 MiB body could make the parser allocate gigabytes.
// A histogram over the job's native_histogram_bucket_limit but within this
// is still reduced in resolution as in Prometheus.
func maxDecodedBuckets(bucketLimit int) int {
	return max(8*bucketLimit, 1<<15)
}

// Protobuf field numbers of io.prometheus.client (metrics.proto).
const (
	fieldFamilyMetric    = 4  // MetricFamily.metric
	fieldMetricHistogram = 7  // Metric.histogram
	fieldHistBucket      = 3  // Histogram.bucket (classic)
	fieldHistNegSpan     = 9  // Histogram.negative_span
	fieldHistNegDelta    = 10 // Histogram.negative_delta (packed sint64)
	fieldHistNegCount    = 11 // Histogram.negative_count (packed double)
	fieldHistPosSpan     = 12
	fieldHistPosDelta    = 13
	fieldHistPosCount    = 14
)

// checkProtoBody walks the length-delimited MetricFamily messages of b
// without decoding them and fails when a histogram carries more than limit
// buckets, or the framing is broken. It reads every byte at most once and
// allocates nothing.
func checkProtoBody(b []byte, limit int) error {
	for len(b) > 0 {
		n, k := protowire.ConsumeVarint(b)
		if k < 0 || n > uint64(len(b)-k) {
			return fmt.Errorf("parse: protobuf: bad message length")
		}
		msg := b[k : k+int(n)]
		b = b[k+int(n):]
		if err := eachField(msg, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num != fieldFamilyMetric || typ != protowire.BytesType {
				return nil
			}
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != fieldMetricHistogram || typ != protowire.BytesType {
					return nil
				}
				return checkHistogram(v, limit)
			})
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkHistogram counts the buckets of one encoded Histogram message.
func checkHistogram(b []byte, limit int) error {
	count := 0
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case fieldHistBucket, fieldHistNegSpan, fieldHistPosSpan:
			count++
		case fieldHistNegDelta, fieldHistPosDelta:
			if typ == protowire.BytesType { // packed varints: one per byte without the continuation bit
				for _, c := range v {
					if c < 0x80 {
						count++
					}
				}
			} else {
				count++
			}
		case fieldHistNegCount, fieldHistPosCount:
			if typ == protowire.BytesType {
				count += len(v) / 8
			} else {
				count++
			}
		}
		if count > limit {
			return fmt.Errorf("%w (over %d)", ErrHistogramTooLarge, limit)
		}
		return nil
	})
	return err
}

// eachField calls f with every field of the encoded message b; v is the
// payload of a length-delimited field, nil for the other types.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return fmt.Errorf("parse: protobuf: bad tag")
		}
		b = b[k:]
		var v []byte
		if typ == protowire.BytesType {
			v, k = protowire.ConsumeBytes(b)
		} else {
			k = protowire.ConsumeFieldValue(num, typ, b)
		}
		if k < 0 {
			return fmt.Errorf("parse: protobuf: bad field %d", num)
		}
		b = b[k:]
		if err := f(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"s3mesh/s3api/s3err"
)

// xmlNS is the namespace of S3 response bodies.
const xmlNS = "http://s3.amazonaws.com/doc/2006-03-01/"

// timeFormatXML is how XML bodies carry times: ISO 8601 in UTC with
// milliseconds, as S3 does.
const timeFormatXML = "2006-01-02T15:04:05.000Z"

func xmlTime(t time.Time) string { return t.UTC().Format(timeFormatXML) }

// errorResponse is the body of an error response.
type errorResponse struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
}

// errorXML renders an error body.
func errorXML(e errorResponse) []byte {
	b, err := marshalXML(e)
	if err != nil {
		// errorResponse holds only strings; encoding/xml escapes any text.
		panic(fmt.Sprintf("s3api: marshal error body: %v", err))
	}
	return b
}

// marshalXML renders v with the XML declaration.
func marshalXML(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// writeXML writes a 200 response with v as XML body.
func writeXML(w http.ResponseWriter, v any) error {
	b, err := marshalXML(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// readXMLBody reads an XML request body of at most limit bytes into v. An
// empty body is MissingRequestBodyError when required, else leaves v
// untouched and reports false; a larger body is MaxMessageLengthExceeded;
// one that does not parse is MalformedXML.
func readXMLBody(r io.Reader, limit int64, required bool, v any) (bool, error) {
	data, err := readLimited(r, limit)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if required {
			return false, s3err.ErrMissingRequestBodyError
		}
		return false, nil
	}
	if err := decodeXML(data, v); err != nil {
		return false, err
	}
	return true, nil
}

// readLimited reads r to its end, failing with MaxMessageLengthExceeded past
// limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, s3err.New(s3err.ErrMaxMessageLengthExceeded,
			fmt.Sprintf("Your request body exceeds the maximum of %d bytes.", limit))
	}
	return data, nil
}

// decodeXML parses data into v; anything but one well-formed element of the
// expected name, with nothing but white space after it, is MalformedXML.
func decodeXML(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return s3err.Wrap(s3err.ErrMalformedXML, fmt.Errorf("decode %T: %w", v, err))
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s3err.Wrap(s3err.ErrMalformedXML, fmt.Errorf("after %T: %w", v, err))
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return s3err.Wrap(s3err.ErrMalformedXML, fmt.Errorf("text after %T", v))
			}
		case xml.Comment, xml.ProcInst:
		default:
			return s3err.Wrap(s3err.ErrMalformedXML, fmt.Errorf("content after %T", v))
		}
	}
}

// ownerXML is an Owner element.
type ownerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

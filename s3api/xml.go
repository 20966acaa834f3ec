package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
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
// expected name, with nothing but white space after it, is MalformedXML. So
// is an element the schema of v does not have (S3 validates bodies against
// its schema; encoding/xml would ignore it), one in a namespace other than
// S3's, and a repeated element that v holds once (encoding/xml would keep
// the last, so a DeleteObjects <Object> with two <Key>s would delete the
// second).
func decodeXML(data []byte, v any) error {
	if err := checkXMLShape(data, reflect.TypeOf(v)); err != nil {
		return err
	}
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

// xmlShape is the element structure of a request body type: its child
// elements by local name.
type xmlShape struct {
	children map[string]*xmlChild
}

type xmlChild struct {
	repeated bool
	shape    *xmlShape // nil for a leaf (text) element
}

var xmlShapes sync.Map // reflect.Type -> *xmlShape

// shapeOf returns the element structure of struct type t (or *t).
func shapeOf(t reflect.Type) *xmlShape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s, ok := xmlShapes.Load(t); ok {
		return s.(*xmlShape)
	}
	s := &xmlShape{children: map[string]*xmlChild{}}
	addFields(s, t)
	xmlShapes.Store(t, s)
	return s
}

func addFields(s *xmlShape, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("xml")
		if f.Anonymous && tag == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(s, ft)
			}
			continue
		}
		if f.Name == "XMLName" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "attr") || strings.Contains(opts, "chardata") ||
			strings.Contains(opts, "innerxml") || strings.Contains(opts, "comment") || strings.Contains(opts, "any") {
			continue
		}
		if i := strings.LastIndexByte(name, ' '); i >= 0 {
			name = name[i+1:] // "namespace local"
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		repeated := false
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
			repeated, ft = true, ft.Elem()
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		var leaf *xmlShape
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			leaf = shapeOf(ft)
		}
		// "A>B": element A (once) holding B.
		path := strings.Split(name, ">")
		cur := s
		for _, p := range path[:len(path)-1] {
			c, ok := cur.children[p]
			if !ok {
				c = &xmlChild{shape: &xmlShape{children: map[string]*xmlChild{}}}
				cur.children[p] = c
			}
			cur = c.shape
		}
		cur.children[path[len(path)-1]] = &xmlChild{repeated: repeated, shape: leaf}
	}
}

// checkXMLShape walks data against the structure of t: elements in no
// namespace or in S3's, each one t declares, and those t holds once at most
// once. Well-formedness errors are left to the decoder.
func checkXMLShape(data []byte, t reflect.Type) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	type frame struct {
		name  string
		shape *xmlShape // nil: a leaf, which holds no elements
		seen  map[string]bool
	}
	var stack []frame
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // io.EOF, or malformed: decodeXML's decoder reports it
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Space != "" && el.Name.Space != xmlNS {
				return s3err.New(s3err.ErrMalformedXML, fmt.Sprintf("The element %s is in the namespace %q; S3 bodies use %q or none.", truncateValue(el.Name.Local), truncateValue(el.Name.Space), xmlNS))
			}
			if len(stack) == 0 {
				stack = append(stack, frame{name: el.Name.Local, shape: shapeOf(t), seen: map[string]bool{}})
				continue
			}
			top := stack[len(stack)-1]
			if top.shape == nil {
				return s3err.New(s3err.ErrMalformedXML, fmt.Sprintf("The element %s holds an element, %s; it holds only text.", truncateValue(top.name), truncateValue(el.Name.Local)))
			}
			c, ok := top.shape.children[el.Name.Local]
			if !ok {
				return s3err.New(s3err.ErrMalformedXML, fmt.Sprintf("The element %s is not part of this request's schema.", truncateValue(el.Name.Local)))
			}
			if !c.repeated {
				if top.seen[el.Name.Local] {
					return s3err.New(s3err.ErrMalformedXML, fmt.Sprintf("The element %s appears more than once.", truncateValue(el.Name.Local)))
				}
				top.seen[el.Name.Local] = true
			}
			stack = append(stack, frame{name: el.Name.Local, shape: c.shape, seen: map[string]bool{}})
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 0 {
				return nil
			}
		}
	}
}

package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"net/http"

	"github.com/gophercloud/gophercloud/v2"
)

// column is one column of a list table.
type column struct {
	header string
	value  func(obj map[string]any) string
}

// field is a column showing one attribute (a dotted path reaches into
// nested objects: "external_gateway_info.network_id").
func field(header, path string) column {
	return column{header: header, value: func(obj map[string]any) string {
		return formatValue(lookup(obj, path))
	}}
}

func lookup(obj map[string]any, path string) any {
	var cur any = obj
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// formatValue renders an API value for a table cell: lists are joined with
// ", ", objects become sorted key='value' pairs, null is empty.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			if m, ok := e.(map[string]any); ok {
				parts[i] = "{" + formatValue(m) + "}"
			} else {
				parts[i] = formatValue(e)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s='%s'", k, formatValue(v[k]))
		}
		return strings.Join(parts, ", ")
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// printList prints items as a table with cols, or as a JSON array.
func (a *app) printList(cols []column, items []map[string]any) error {
	if a.output == "json" {
		if items == nil {
			items = []map[string]any{}
		}
		return writeJSON(a.stdout, items)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, it := range items {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = cleanCell(c.value(it))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// printObject prints one API object as a two-column FIELD/VALUE table
// sorted by field, or as JSON.
func (a *app) printObject(obj map[string]any) error {
	if a.output == "json" {
		return writeJSON(a.stdout, obj)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, cleanCell(formatValue(obj[k])))
	}
	return tw.Flush()
}

// cleanCell keeps a cell on one line and free of tabs.
func cleanCell(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// describe turns an error into one line, replacing each API error in it by
// Neutron's (or Keystone's) message and the HTTP status.
func describe(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts := make([]string, 0, len(j.Unwrap()))
		for _, e := range j.Unwrap() {
			parts = append(parts, describe(e))
		}
		return strings.Join(parts, "; ")
	}
	var rc gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &rc) {
		return err.Error()
	}
	return strings.Replace(err.Error(), rc.Error(), apiMessage(rc), 1)
}

func apiMessage(rc gophercloud.ErrUnexpectedResponseCode) string {
	var body struct {
		NeutronError *struct {
			Message string `json:"message"`
		} `json:"NeutronError"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(rc.Body))
	if json.Unmarshal(rc.Body, &body) == nil {
		switch {
		case body.NeutronError != nil:
			msg = body.NeutronError.Message
		case body.Error != nil:
			msg = body.Error.Message
		}
	}
	if msg == "" {
		msg = http.StatusText(rc.Actual)
	}
	return fmt.Sprintf("%s (HTTP %d)", msg, rc.Actual)
}

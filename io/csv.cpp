#include "io/csv.h"

#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace mdcsrn {
namespace {

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

int CsvTable::column(const std::string& name) const {
  for (size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) return int(c);
  return -1;
}

std::string CsvTable::where(size_t r) const { return source + ": line " + std::to_string(lines.at(r)); }

CsvTable parse_csv(const std::string& text, const std::string& source) {
  CsvTable table;
  table.source = source;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, any = false;
  int line = 1, record_line = 1;
  auto end_field = [&] {
    record.push_back(trimmed(field));
    field.clear();
  };
  auto end_record = [&] {
    end_field();
    const bool blank = record.size() == 1 && record[0].empty() && !any;
    if (!blank) {
      if (table.header.empty()) {
        table.header = record;
        for (size_t c = 0; c < record.size(); ++c)
          for (size_t d = 0; d < c; ++d)
            if (record[c] == record[d]) fail(source + ": line " + std::to_string(record_line) + ": two columns named '" + record[c] + "'");
      } else {
        if (record.size() != table.header.size())
          fail(source + ": line " + std::to_string(record_line) + ": " + std::to_string(record.size()) + " fields, the header has " +
               std::to_string(table.header.size()));
        table.rows.push_back(record);
        table.lines.push_back(record_line);
      }
    }
    record.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"') {
      quoted = any = true;
    } else if (ch == ',') {
      end_field();
      any = true;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      record_line = ++line;
    } else {
      field += ch;
      if (ch != ' ' && ch != '\t') any = true;
    }
  }
  if (quoted) fail(source + ": line " + std::to_string(record_line) + ": a quoted field is not closed");
  if (any || !field.empty()) end_record();
  if (table.header.empty()) fail(source + ": no header row (the file is empty)");
  return table;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open the table (missing or unreadable)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path + ": read error");
  return parse_csv(text.str(), path);
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char ch : value) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

}  // namespace mdcsrn

#pragma once
// Comma-separated tables as spreadsheets and HCP's behavioural files write them (RFC 4180:
// quoted fields may hold commas, quotes doubled, CRLF or LF line ends): a header row, then one
// row per record. Errors are one line naming the file and the line.
#include <string>
#include <vector>

namespace mdcsrn {

struct CsvTable {
  std::string source;                            // the file, for messages
  std::vector<std::string> header;               // column names, trimmed
  std::vector<std::vector<std::string>> rows;    // as many fields as the header, trimmed
  std::vector<int> lines;                        // each row's line number in the file

  int column(const std::string& name) const;     // -1 when absent
  // "FILE: line N" for row r, to start a message with.
  std::string where(size_t r) const;
};

// Throws for a missing or unreadable file, no header, an unterminated quote, a row with another
// number of fields than the header, or two columns of one name. Blank lines are skipped.
CsvTable read_csv(const std::string& path);
CsvTable parse_csv(const std::string& text, const std::string& source);

// A field for writing: quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& value);

}  // namespace mdcsrn

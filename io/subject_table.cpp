#include "io/subject_table.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "io/csv.h"

namespace mdcsrn {
namespace {

// A whole-string decimal number, or NaN.
double number_or_nan(const std::string& text) {
  if (text.empty()) return NAN;
  size_t used = 0;
  double value = NAN;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return NAN;
  }
  return used == text.size() && std::isfinite(value) ? value : NAN;
}

std::string replace_id(std::string path, const std::string& id) {
  for (size_t at = path.find("{id}"); at != std::string::npos; at = path.find("{id}", at + id.size())) path.replace(at, 4, id);
  return path;
}

// An HCP age bin's midpoint: "22-25" -> 23.5; "36+" -> 36.5 (HCP's oldest subjects are 37).
double bin_midpoint(const std::string& bin) {
  if (bin.size() > 1 && bin.back() == '+') {
    const double low = number_or_nan(bin.substr(0, bin.size() - 1));
    return std::isnan(low) ? NAN : low + 0.5;
  }
  const size_t dash = bin.find('-');
  if (dash == std::string::npos || dash == 0) return NAN;
  const double low = number_or_nan(bin.substr(0, dash)), high = number_or_nan(bin.substr(dash + 1));
  return std::isnan(low) || std::isnan(high) || high < low ? NAN : (low + high) / 2;
}

}  // namespace

SubjectTable read_subject_table(const std::string& path, const std::vector<std::string>& sets, bool ages_from_table) {
  const CsvTable csv = read_csv(path);
  SubjectTable table;
  table.source = path;
  const int id_column = csv.column("id"), age_column = csv.column("age");
  if (id_column < 0) fail(path + ": no 'id' column (the header is: id, age, then one column per image set)");
  if (ages_from_table && age_column < 0) fail(path + ": no 'age' column (or take the ages from HCP's CSV: --ages)");
  std::vector<int> set_columns;
  if (sets.empty()) {
    for (size_t c = 0; c < csv.header.size(); ++c)
      if (int(c) != id_column && int(c) != age_column) {
        table.sets.push_back(csv.header[c]);
        set_columns.push_back(int(c));
      }
  } else {
    for (const std::string& s : sets) {
      const int c = csv.column(s);
      if (c < 0 || c == id_column || c == age_column) fail(path + ": no image-set column '" + s + "'");
      table.sets.push_back(s);
      set_columns.push_back(c);
    }
  }
  if (table.sets.empty()) fail(path + ": no image-set columns besides id and age");
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::set<std::string> seen;
  for (size_t r = 0; r < csv.rows.size(); ++r) {
    const std::vector<std::string>& row = csv.rows[r];
    AgeSubject s;
    s.id = row[size_t(id_column)];
    if (s.id.empty()) fail(csv.where(r) + ": empty id");
    if (!seen.insert(s.id).second) fail(csv.where(r) + ": subject '" + s.id + "' appears twice");
    if (ages_from_table) {
      s.age = number_or_nan(row[size_t(age_column)]);
      if (!(s.age > 0)) fail(csv.where(r) + ": age '" + row[size_t(age_column)] + "' of subject " + s.id + " is not a positive number");
    }
    for (size_t k = 0; k < set_columns.size(); ++k) {
      const std::string given = row[size_t(set_columns[k])];
      if (given.empty()) fail(csv.where(r) + ": no " + table.sets[k] + " image for subject " + s.id);
      std::filesystem::path image = replace_id(given, s.id);
      if (image.is_relative()) image = folder / image;
      if (!std::filesystem::is_regular_file(image))
        fail(csv.where(r) + ": the " + table.sets[k] + " image of subject " + s.id + " (" + image.string() + ") does not exist");
      s.images.push_back(image.string());
    }
    table.subjects.push_back(std::move(s));
  }
  if (table.subjects.empty()) fail(path + ": no subjects");
  table.ages = ages_from_table ? path + " (column age)" : "";
  return table;
}

void read_hcp_ages(SubjectTable& table, const std::string& hcp_csv) {
  const CsvTable csv = read_csv(hcp_csv);
  const int subject_column = csv.column("Subject");
  if (subject_column < 0) fail(hcp_csv + ": no 'Subject' column (HCP's behavioural CSVs have one)");
  const int years = csv.column("Age_in_Yrs"), bins = csv.column("Age");
  if (years < 0 && bins < 0) fail(hcp_csv + ": neither 'Age_in_Yrs' (restricted) nor 'Age' (unrestricted) is a column");
  const int column = years >= 0 ? years : bins;
  for (AgeSubject& s : table.subjects) {
    const auto found = std::find_if(csv.rows.begin(), csv.rows.end(), [&](const auto& row) { return row[size_t(subject_column)] == s.id; });
    if (found == csv.rows.end()) fail(hcp_csv + ": subject " + s.id + " of " + table.source + " is not in the file");
    const std::string& text = (*found)[size_t(column)];
    s.age = years >= 0 ? number_or_nan(text) : bin_midpoint(text);
    if (!(s.age > 0))
      fail(csv.where(size_t(found - csv.rows.begin())) + ": age '" + text + "' of subject " + s.id + " is not " +
           (years >= 0 ? "a positive number" : "an age bin such as 22-25"));
  }
  table.ages = years >= 0 ? hcp_csv + " (restricted Age_in_Yrs)"
                          : hcp_csv + " (unrestricted Age bins, each subject at its bin's midpoint: 22-25 as 23.5, 36+ as 36.5)";
}

int exclude_subjects(SubjectTable& table, const std::vector<std::string>& ids) {
  const std::set<std::string> drop(ids.begin(), ids.end());
  const size_t before = table.subjects.size();
  std::erase_if(table.subjects, [&](const AgeSubject& s) { return drop.count(s.id) > 0; });
  return int(before - table.subjects.size());
}

}  // namespace mdcsrn

#pragma once
// The subject table of the brain-age study (`subjects.csv`): one row per subject with its id, its
// age in years and one column per image set (HR, LR, each SR method), each a path to a NIfTI
// volume, relative to the table's folder, in which `{id}` stands for the subject's id. Ages may
// come from HCP's own behavioural CSVs instead of the table.
#include <string>
#include <vector>

namespace mdcsrn {

struct AgeSubject {
  std::string id;
  double age = 0;
  std::vector<std::string> images;  // one per set, resolved
};

struct SubjectTable {
  std::string source;
  std::vector<std::string> sets;      // image-set names, in column order
  std::vector<AgeSubject> subjects;
  std::string ages;                   // where the ages came from, for the report
};

// Reads the table. `sets` names the image-set columns to use (all columns but id and age when
// empty). With `ages_from_table` false the age column may be absent (ages come from elsewhere).
// Throws a one-line error naming the file for a missing column, an empty or repeated id, a
// non-numeric or non-positive age, a set column that is not there, or an image that does not exist.
SubjectTable read_subject_table(const std::string& path, const std::vector<std::string>& sets, bool ages_from_table = true);

// Ages from HCP's CSVs (column Subject): the restricted file's Age_in_Yrs when it has one, else the
// unrestricted file's Age bins ("22-25", "26-30", "31-35", "36+") at their midpoints, "36+" as
// 36-37 (HCP's oldest). Sets every subject's age and the table's `ages` note; throws when a
// subject is not in the file or its age is not a number or a bin.
void read_hcp_ages(SubjectTable& table, const std::string& hcp_csv);

// Drops the subjects whose ids are listed (subjects an SR model trained on); returns how many.
int exclude_subjects(SubjectTable& table, const std::vector<std::string>& ids);

}  // namespace mdcsrn

#include "http/playlist_uris.h"

namespace sluice::http {

namespace {

void append_uri(std::string& out, std::string_view uri, std::string_view parameter) {
  // A fragment stays last; the parameter joins the query, or starts one.
  const auto hash = uri.find('#');
  const auto path = uri.substr(0, hash);
  out.append(path);
  out.push_back(path.find('?') == std::string_view::npos ? '?' : '&');
  out.append(parameter);
  if (hash != std::string_view::npos) out.append(uri.substr(hash));
}

}  // namespace

std::string with_query_parameter(std::string_view playlist, std::string_view parameter) {
  std::string out;
  out.reserve(playlist.size() + playlist.size() / 8);
  while (!playlist.empty()) {
    const auto eol = playlist.find('\n');
    std::string_view line = playlist.substr(0, eol);
    playlist = eol == std::string_view::npos ? std::string_view{} : playlist.substr(eol + 1);
    const bool newline = eol != std::string_view::npos;
    const bool cr = !line.empty() && line.back() == '\r';
    if (cr) line.remove_suffix(1);
    if (line.empty()) {
    } else if (line.front() != '#') {
      append_uri(out, line, parameter);
      line = {};
    } else {
      // Every URI="..." attribute of a tag.
      constexpr std::string_view kAttribute = "URI=\"";
      for (auto at = line.find(kAttribute); at != std::string_view::npos;
           at = line.find(kAttribute)) {
        const auto start = at + kAttribute.size();
        const auto end = line.find('"', start);
        if (end == std::string_view::npos) break;  // unterminated: left as it is
        out.append(line.substr(0, start));
        append_uri(out, line.substr(start, end - start), parameter);
        line.remove_prefix(end);
      }
    }
    out.append(line);
    if (cr) out.push_back('\r');
    if (newline) out.push_back('\n');
  }
  return out;
}

}  // namespace sluice::http

// Small file helpers shared by the disk writers of this folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace sluice::store {

// Writes to "<path>.tmp" and renames, so a reader (or a restart) never sees half a file.
bool write_file_atomic(const std::filesystem::path& path, const void* data, std::size_t size);

// The whole file, or nullopt if it cannot be read or is larger than `max_bytes`.
std::optional<std::vector<std::uint8_t>> read_file(const std::filesystem::path& path,
                                                   std::uint64_t max_bytes);

}  // namespace sluice::store

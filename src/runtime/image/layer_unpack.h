#pragma once

// Layer tar unpacking (and packing) with libarchive, in the shape overlayfs
// wants: OCI whiteouts ("<dir>/.wh.<name>") become 0/0 character devices and
// opaque markers ("<dir>/.wh..wh..opq") become trusted.overlay.opaque=y on
// their directory, as containerd's overlay snapshotter applier does.

#include <string>

#include "common/result.h"
#include "runtime/image/digest.h"

namespace berth::runtime {

// Unpacks the layer blob at `blob_path` (a tar, plain or gzip/zstd
// compressed; detected from the data) into the existing, empty directory
// `dest_dir`, keeping modes, owners, mtimes and xattrs, and returns the
// SHA-256 of the uncompressed tar stream (the layer's DiffID).
//
// Entries that would land outside `dest_dir` are refused with an Invalid
// error: absolute paths, ".." components, and paths (or hard-link targets)
// that go through a symlink created earlier by the same layer. On error the
// directory holds a partial tree: the caller removes it.
Result<Digest> unpackLayer(const std::string& blob_path, const std::string& dest_dir);

struct PackedLayer {
  Digest digest;   // of the gzip-compressed blob
  Digest diff_id;  // of the uncompressed tar
  int64_t size = 0;
};

// Writes the whole tree under `src_dir` as one gzip-compressed tar (pax
// format; hard links, symlinks, xattrs, owners and mtimes kept) to `out_path`.
Result<PackedLayer> packLayer(const std::string& src_dir, const std::string& out_path);

}  // namespace berth::runtime

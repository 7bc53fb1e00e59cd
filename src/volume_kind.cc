#include "volume_kind.h"

#include <array>

namespace hotreload {

namespace {

struct KnownVolume {
  uint64_t magic;
  VolumeKind kind;
};

// Magic numbers from linux/magic.h and the filesystems' own sources.
constexpr std::array kKnownVolumes{
    // Network, cluster and userspace filesystems: changes made elsewhere raise no events.
    KnownVolume{0x6969, {"nfs", true}},
    KnownVolume{0x517B, {"smb", true}},
    KnownVolume{0xFE534D42, {"smb2", true}},
    KnownVolume{0xFF534D42, {"cifs", true}},
    KnownVolume{0x65735546, {"fuse", true}},
    KnownVolume{0x00C36400, {"ceph", true}},
    KnownVolume{0x01021997, {"9p", true}},
    KnownVolume{0x5346414F, {"afs", true}},
    KnownVolume{0x6B414653, {"kafs", true}},
    KnownVolume{0x73757245, {"coda", true}},
    KnownVolume{0x01161970, {"gfs2", true}},
    KnownVolume{0x7461636F, {"ocfs2", true}},
    KnownVolume{0x0BD00BD0, {"lustre", true}},
    KnownVolume{0x47504653, {"gpfs", true}},
    KnownVolume{0x564C, {"ncp", true}},
    KnownVolume{0x786F4256, {"vboxsf", true}},
    // Local filesystems: the kernel sees every change, so inotify does too.
    KnownVolume{0x01021994, {"tmpfs", false}},
    KnownVolume{0x858458F6, {"ramfs", false}},
    KnownVolume{0xEF53, {"ext4", false}},
    KnownVolume{0x58465342, {"xfs", false}},
    KnownVolume{0x9123683E, {"btrfs", false}},
    KnownVolume{0x794C7630, {"overlay", false}},
    KnownVolume{0x2FC12FC1, {"zfs", false}},
    KnownVolume{0xF2F52010, {"f2fs", false}},
    KnownVolume{0xCA451A4E, {"bcachefs", false}},
    KnownVolume{0x73717368, {"squashfs", false}},
    KnownVolume{0x4D44, {"vfat", false}},
    KnownVolume{0x2011BAB0, {"exfat", false}},
    KnownVolume{0x5346544E, {"ntfs", false}},
    KnownVolume{0x9660, {"iso9660", false}},
    KnownVolume{0x3434, {"nilfs", false}},
    KnownVolume{0x9FA0, {"proc", false}},
    KnownVolume{0x62656572, {"sysfs", false}},
};

}  // namespace

VolumeKind classify_volume(uint64_t f_type) {
  for (const auto& known : kKnownVolumes)
    if (known.magic == f_type) return known.kind;
  return {"unknown", false};
}

}  // namespace hotreload

import CHDF5

extension HDF5Source {
    /// Visits every object reachable from the root the way h5py's `visititems` and h5dump do (`H5Ovisit2`,
    /// every group's links iterated, every object's header, attribute count and B-tree and heap sizes read),
    /// and returns how many objects there are. It reads no data.
    ///
    /// Readers that open only the paths their layout names leave the rest of a file unread; this walk finds
    /// damage anywhere in its structure, such as the local heap of an empty group, which `H5Gget_info` and
    /// `H5Lget_name_by_idx` never touch but every link iteration needs.
    ///
    /// - Throws: ``HDF5Error`` naming `H5Ovisit2` and libhdf5's error stack, or a refusal for more than
    ///   ``maximumListCount`` objects.
    package func visitEveryObject() throws -> Int {
        try HDF5Library.serialized {
            let walk = Walk()
            let fields = UInt32(H5O_INFO_BASIC | H5O_INFO_TIME | H5O_INFO_NUM_ATTRS | H5O_INFO_HDR | H5O_INFO_META_SIZE)
            let status = H5Ovisit2(root.id, H5_INDEX_NAME, H5_ITER_INC, { _, name, _, data in
                guard let data else { return -1 }
                let walk = Unmanaged<Walk>.fromOpaque(data).takeUnretainedValue()
                walk.count += 1
                walk.last = name.map { String(cString: $0) } ?? ""
                // A positive value stops the walk early without an error; the count says why.
                return walk.count > HDF5Source.maximumListCount ? 1 : 0
            }, Unmanaged.passUnretained(walk).toOpaque(), fields)
            withExtendedLifetime(walk) {}
            let location = walk.count <= 1 ? "/" : "/ (walking every object; the last one visited was /\(walk.last))"
            try check.status("H5Ovisit2", location, status)
            guard walk.count <= HDF5Source.maximumListCount else { throw check.refused("/", "more than \(HDF5Source.maximumListCount) objects") }
            return walk.count
        }
    }

    /// What the walk has seen so far.
    private final class Walk {
        var count = 0
        var last = ""
    }
}

namespace Accelerator.Testing.Tar;

/// <summary>How <see cref="TarBuilder"/> encodes a sparse file (GNU tar manual, "Storing Sparse Files").</summary>
public enum TarSparseFormat
{
    /// <summary>Old GNU type 'S' entry, map in the header and extension blocks.</summary>
    GnuOld,

    /// <summary>pax format 0.0: repeated <c>GNU.sparse.offset</c>/<c>GNU.sparse.numbytes</c> records.</summary>
    Pax00,

    /// <summary>pax format 0.1: one <c>GNU.sparse.map</c> record.</summary>
    Pax01,

    /// <summary>pax format 1.0: the map at the start of the data.</summary>
    Pax10,
}

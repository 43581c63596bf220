namespace Accelerator.Oci.Layers;

/// <summary>What applying one layer did.</summary>
public sealed class LayerApplyReport
{
    /// <summary>Tar entries read (including whiteout markers).</summary>
    public int Entries { get; internal set; }

    /// <summary>Regular files written.</summary>
    public int Files { get; internal set; }

    /// <summary>Directories created or updated.</summary>
    public int Directories { get; internal set; }

    /// <summary>Symbolic and hard links created.</summary>
    public int Links { get; internal set; }

    /// <summary>Devices and fifos created.</summary>
    public int SpecialFiles { get; internal set; }

    /// <summary>Whiteouts and opaque markers applied.</summary>
    public int Whiteouts { get; internal set; }

    /// <summary>File data bytes written (holes of sparse files not counted).</summary>
    public long BytesWritten { get; internal set; }
}

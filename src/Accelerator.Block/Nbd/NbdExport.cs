using Accelerator.Block.Nbd.Protocol;

namespace Accelerator.Block.Nbd;

/// <summary>One disk an <see cref="NbdServer"/> serves, under a name clients pass to <c>NBD_OPT_GO</c>.</summary>
public sealed class NbdExport
{
    /// <summary>Creates an export.</summary>
    /// <param name="name">The export name: 1 to 4096 bytes of UTF-8, no NUL (clients ask for it by name).</param>
    /// <param name="disk">The disk served; the server does not dispose it.</param>
    /// <param name="description">A description shown by <c>nbdinfo --list</c>, or null.</param>
    /// <param name="readOnly">Serve read-only even when the disk is writable.</param>
    /// <exception cref="ArgumentException">The name or description is not a valid protocol string.</exception>
    public NbdExport(string name, IVirtualDisk disk, string? description = null, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(disk);
        CheckString(name, nameof(name));
        if (description is not null)
        {
            CheckString(description, nameof(description));
        }

        Name = name;
        Disk = disk;
        Description = description;
        IsReadOnly = readOnly || disk.IsReadOnly;

        Flags = FlagsFor(IsReadOnly);
    }

    /// <summary>The export name.</summary>
    public string Name { get; }

    /// <summary>The disk served.</summary>
    public IVirtualDisk Disk { get; }

    /// <summary>The description, or null.</summary>
    public string? Description { get; }

    /// <summary>Whether writes, trims and write-zeroes are refused (EPERM).</summary>
    public bool IsReadOnly { get; }

    /// <summary>The transmission flags clients get.</summary>
    public NbdTransmissionFlags Flags { get; }

    // CAN_MULTI_CONN: every connection shares the one disk object, so a flush on one covers writes made on all.
    internal static NbdTransmissionFlags FlagsFor(bool readOnly)
        => NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.CanMultiConn
            | (readOnly
                ? NbdTransmissionFlags.ReadOnly
                : NbdTransmissionFlags.SendFua | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes);

    private static void CheckString(string value, string parameter)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(value) > NbdLimits.MaxString || value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("NBD strings are at most 4096 bytes of UTF-8 without NUL.", parameter);
        }
    }
}

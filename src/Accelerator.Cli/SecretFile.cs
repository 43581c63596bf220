namespace Accelerator.Cli;

/// <summary>
/// Files holding a secret (the scheduler's token key, the operator token): bounded in size, and refused when anyone
/// but the owner may read or change them — a secret everyone on the host can read is no credential.
/// </summary>
internal static class SecretFile
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The bytes of the secret file <paramref name="path"/> given as <paramref name="option"/>, or one clear error naming it.</summary>
    public static async Task<byte[]> ReadAsync(string option, string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.Length is < 16 or > 4096)
        {
            throw new FormatException($"{option}: '{path}' must exist and hold 16 to 4096 bytes.");
        }

        var mode = OperatingSystem.IsWindows() ? default : info.UnixFileMode;
        if ((mode & GroupOrOthers) != 0)
        {
            throw new FormatException(
                $"{option}: '{path}' is readable or writable by others (group or world, mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); chmod 600 it.");
        }

        return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
    }
}

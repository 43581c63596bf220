using System.Runtime.InteropServices;

namespace Accelerator.Linux;

/// <summary>
/// The <c>open(2)</c> flags whose numbers differ between the Linux architectures this library runs on: one table, so
/// no package hard-codes the x86-64 value (on arm64, x86-64's <c>O_DIRECTORY</c> number means <c>O_DIRECT</c>).
/// </summary>
/// <param name="Directory"><c>O_DIRECTORY</c>.</param>
/// <param name="NoFollow"><c>O_NOFOLLOW</c>.</param>
/// <param name="Direct"><c>O_DIRECT</c>.</param>
/// <param name="LargeFile"><c>O_LARGEFILE</c> (the kernel sets it on every open of a 64-bit process; <c>F_GETFL</c> shows it).</param>
public readonly record struct LinuxOpenFlags(int Directory, int NoFollow, int Direct, int LargeFile)
{
    // x86-64 takes asm-generic/fcntl.h: O_DIRECT 040000, O_LARGEFILE 0100000, O_DIRECTORY 0200000, O_NOFOLLOW 0400000.
    private static readonly LinuxOpenFlags Generic = new(Directory: 0x10000, NoFollow: 0x20000, Direct: 0x4000, LargeFile: 0x8000);

    // arch/arm64/include/uapi/asm/fcntl.h (as arm): O_DIRECTORY 040000, O_NOFOLLOW 0100000, O_DIRECT 0200000,
    // O_LARGEFILE 0400000.
    private static readonly LinuxOpenFlags Arm = new(Directory: 0x4000, NoFollow: 0x8000, Direct: 0x10000, LargeFile: 0x20000);

    /// <summary>The flags of the architecture this process runs on.</summary>
    public static LinuxOpenFlags Current { get; } = For(RuntimeInformation.ProcessArchitecture);

    /// <summary>The flags of <paramref name="architecture"/>.</summary>
    /// <exception cref="PlatformNotSupportedException">An architecture whose numbers are not in this table.</exception>
    public static LinuxOpenFlags For(Architecture architecture) => architecture switch
    {
        Architecture.X64 or Architecture.X86 or Architecture.RiscV64 or Architecture.LoongArch64 or Architecture.S390x => Generic,
        Architecture.Arm64 or Architecture.Arm => Arm,
        _ => throw new PlatformNotSupportedException($"The open(2) flags of {architecture} are not known to this library."),
    };
}

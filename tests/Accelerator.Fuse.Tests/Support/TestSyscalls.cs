using System.Runtime.InteropServices;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>System calls the tests make directly.</summary>
internal static partial class TestSyscalls
{
    internal const int SIGINT = 2;
    internal const int SIGTERM = 15;
    internal const int R_OK = 4;
    internal const int W_OK = 2;
    internal const int X_OK = 1;
    internal const int EACCES = 13;
    internal const int EROFS = 30;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int AccessNative(string path, int mode);

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    internal static void Kill(int pid, int signal)
    {
        if (KillNative(pid, signal) != 0)
        {
            throw new IOException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>access(2): 0 or errno.</summary>
    internal static int Access(string path, int mode) => AccessNative(path, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();
}

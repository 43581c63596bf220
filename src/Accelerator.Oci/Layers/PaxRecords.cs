using System.Text;

namespace Accelerator.Oci.Layers;

/// <summary>
/// Decodes the records of a pax extended header (POSIX.1-2017, pax, "pax Extended Header"): each record is
/// <c>"%d %s=%s\n"</c>, length (decimal, counting the whole record), keyword, value. Values are kept as raw bytes
/// because <c>SCHILY.xattr.*</c> values are binary.
/// </summary>
internal static class PaxRecords
{
    /// <summary>Parses every record of <paramref name="data"/>, calling <paramref name="onRecord"/> for each in order.</summary>
    /// <exception cref="InvalidDataException">A record is malformed.</exception>
    public static void Parse(ReadOnlySpan<byte> data, Action<string, byte[]> onRecord)
    {
        while (!data.IsEmpty)
        {
            // GNU tar pads the header data with NULs to the block size; a NUL where a record should start ends it.
            if (data[0] == 0)
            {
                if (data.ContainsAnyExcept((byte)0))
                {
                    throw new InvalidDataException("Pax header has data after its NUL padding.");
                }

                return;
            }

            int space = data.IndexOf((byte)' ');
            if (space is <= 0 or > 20)
            {
                throw new InvalidDataException("Pax record has no valid length.");
            }

            long length = 0;
            foreach (byte b in data[..space])
            {
                if (b is < (byte)'0' or > (byte)'9')
                {
                    throw new InvalidDataException("Pax record length is not a decimal number.");
                }

                length = (length * 10) + (b - '0');
                if (length > data.Length)
                {
                    throw new InvalidDataException("Pax record length runs past the header data.");
                }
            }

            if (length <= space + 2)
            {
                throw new InvalidDataException("Pax record length is too small.");
            }

            ReadOnlySpan<byte> record = data[..(int)length];
            if (record[^1] != (byte)'\n')
            {
                throw new InvalidDataException("Pax record does not end with a newline.");
            }

            ReadOnlySpan<byte> body = record[(space + 1)..^1];
            int equals = body.IndexOf((byte)'=');
            if (equals <= 0)
            {
                throw new InvalidDataException("Pax record has no keyword.");
            }

            ReadOnlySpan<byte> keyword = body[..equals];
            if (keyword.Contains((byte)0))
            {
                throw new InvalidDataException("Pax keyword contains a NUL byte.");
            }

            onRecord(Encoding.UTF8.GetString(keyword), body[(equals + 1)..].ToArray());
            data = data[(int)length..];
        }
    }

    /// <summary>Parses a non-negative decimal integer value.</summary>
    public static long ParseInteger(ReadOnlySpan<byte> value, string keyword)
    {
        if (value.IsEmpty || value.Length > 19)
        {
            throw new InvalidDataException($"Pax record '{keyword}' is not a valid number.");
        }

        long result = 0;
        foreach (byte b in value)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                throw new InvalidDataException($"Pax record '{keyword}' is not a valid number.");
            }

            if (result > (long.MaxValue - 9) / 10)
            {
                throw new InvalidDataException($"Pax record '{keyword}' overflows.");
            }

            result = (result * 10) + (b - '0');
        }

        return result;
    }

    /// <summary>Parses a time value: optional '-', decimal seconds, optional '.' and fraction digits.</summary>
    public static TarTimestamp ParseTime(ReadOnlySpan<byte> value, string keyword)
    {
        bool negative = !value.IsEmpty && value[0] == (byte)'-';
        if (negative)
        {
            value = value[1..];
        }

        int dot = value.IndexOf((byte)'.');
        ReadOnlySpan<byte> whole = dot < 0 ? value : value[..dot];
        ReadOnlySpan<byte> fraction = dot < 0 ? [] : value[(dot + 1)..];
        long seconds = ParseInteger(whole, keyword);
        long nanos = 0;
        for (int i = 0; i < fraction.Length; i++)
        {
            byte b = fraction[i];
            if (b is < (byte)'0' or > (byte)'9' || i > 64)
            {
                throw new InvalidDataException($"Pax record '{keyword}' is not a valid time.");
            }

            if (i < 9)
            {
                nanos = (nanos * 10) + (b - '0');
            }
        }

        for (int i = fraction.Length; i < 9; i++)
        {
            nanos *= 10;
        }

        if (!negative)
        {
            return new TarTimestamp(seconds, (int)nanos);
        }

        return nanos == 0 ? new TarTimestamp(-seconds, 0) : new TarTimestamp(-seconds - 1, (int)(1_000_000_000 - nanos));
    }
}

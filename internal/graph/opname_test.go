package graph

import "testing"

func TestOpName(t *testing.T) {
	t.Parallel()
	tests := []struct{ endpoint, want string }{
		{"https://graph.microsoft.com/beta/deviceManagement/windowsAutopilotSettings", "windowsAutopilotSettings"},
		{"https://graph.microsoft.com/beta/deviceManagement/windowsAutopilotSettings/sync", "windowsAutopilotSettings/sync"},
		{"https://127.0.0.1:8443/beta/deviceManagement/windowsAutopilotDeviceIdentities?$filter=contains(serialNumber,'5CG1234XYZ')", "windowsAutopilotDeviceIdentities"},
		{"https://graph.microsoft.us/beta/devicemanagement/importedWindowsAutopilotDeviceIdentities/import", "importedWindowsAutopilotDeviceIdentities/import"},
		{"https://graph.microsoft.com/beta/deviceManagement/importedWindowsAutopilotDeviceIdentities/985b4f49-4f49-985b-494f-5b98494f5b98", "importedWindowsAutopilotDeviceIdentities/{id}"},
		{"https://graph.microsoft.com/beta/me", "beta/me"},
		{"https://graph.microsoft.com/beta/deviceManagement/x?serial=%zz#frag", "x"},
	}
	for _, tc := range tests {
		if got := opName(tc.endpoint); got != tc.want {
			t.Errorf("opName(%q) = %q, want %q", tc.endpoint, got, tc.want)
		}
	}
}
